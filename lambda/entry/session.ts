import { createSessionHandler } from "../handlers/session.ts";
import { newLogger, tokenKeyFromEnv } from "../runtime/deps-from-env.ts";
import { positiveIntEnv } from "../runtime/environment.ts";

/** Lambda entry of `POST /session`; the secret is read once per cold start. */
export const handler = createSessionHandler({
  key: await tokenKeyFromEnv(),
  ttlSeconds: positiveIntEnv("CHAT_TOKEN_TTL"),
  logger: newLogger(),
});
