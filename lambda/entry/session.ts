import { createSessionHandler } from "../handlers/session.ts";
import { positiveIntEnv } from "../runtime/environment.ts";
import { newLogger } from "../runtime/function-logger.ts";
import { sessionAuthFromEnv } from "../runtime/session-auth-from-env.ts";
import { sessionRateFromEnv } from "../runtime/session-rate-from-env.ts";
import { tokenKeyLoader } from "../runtime/token-key-from-env.ts";

const logger = newLogger();

/**
 * Lambda entry of `POST /session`. The token key is read on the first request, not at load, and kept; a read that
 * fails makes that request a 500 and the next one tries again. In OIDC mode the issuer's keys are fetched likewise.
 */
export const handler = createSessionHandler({
  key: tokenKeyLoader(process.env, { logger }),
  ttlSeconds: positiveIntEnv("CHAT_TOKEN_TTL"),
  auth: sessionAuthFromEnv(process.env),
  rate: sessionRateFromEnv(process.env),
  logger,
});
