import { createSessionHandler } from "../handlers/session.ts";
import { positiveIntEnv } from "../runtime/environment.ts";
import { newLogger } from "../runtime/function-logger.ts";
import { tokenKeyFromEnv } from "../runtime/token-key-from-env.ts";

/** Lambda entry of `POST /session`; the secret is read once per cold start. */
export const handler = createSessionHandler({
  key: await tokenKeyFromEnv(),
  ttlSeconds: positiveIntEnv("CHAT_TOKEN_TTL"),
  logger: newLogger(),
});
