import { createAuthorizerHandler } from "../handlers/authorizer.ts";
import { newLogger, tokenKeyFromEnv } from "../runtime/deps-from-env.ts";

/** Lambda entry of the `$connect` authorizer; the secret is read once per cold start. */
export const handler = createAuthorizerHandler({ key: await tokenKeyFromEnv(), logger: newLogger() });
