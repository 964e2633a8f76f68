import { createAuthorizerHandler } from "../handlers/authorizer.ts";
import { newLogger } from "../runtime/function-logger.ts";
import { tokenKeyLoader } from "../runtime/token-key-from-env.ts";

const logger = newLogger();

/**
 * Lambda entry of the `$connect` authorizer. The token key is read on the first handshake, not at load, and kept; a
 * read that fails makes that handshake a 500 and the next one tries again.
 */
export const handler = createAuthorizerHandler({
  key: tokenKeyLoader(process.env, { logger }),
  logger,
});
