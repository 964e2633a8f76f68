import { createAuthorizerHandler } from "../handlers/authorizer.ts";
import { newLogger } from "../runtime/function-logger.ts";
import { tokenKeyFromEnv } from "../runtime/token-key-from-env.ts";

/** Lambda entry of the `$connect` authorizer; the secret is read once per cold start. */
export const handler = createAuthorizerHandler({ key: await tokenKeyFromEnv(), logger: newLogger() });
