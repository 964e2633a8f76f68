import type { CoreLogger } from "../core/logger.ts";
import { type TokenKey, tokenKey } from "../core/session-token.ts";
import { type SecretRetryOptions, type SecretSource, tokenSecretLoader, untilLoaded } from "../core/token-secret.ts";
import { secretsManagerSourceFromEnv } from "./secrets-manager-source.ts";

/** Options of {@link tokenKeyLoader}. */
export interface TokenKeyLoaderOptions {
  /** Where an ARN is read. Default: Secrets Manager, from the environment ({@link secretsManagerSourceFromEnv}). */
  readonly source?: SecretSource;
  /** Retry bounds and hooks of the read. Default: `tokenSecretLimits`. */
  readonly retry?: SecretRetryOptions;
  /** Told of each failed read that will be retried (a warning); the final failure is the handlers' to log. */
  readonly logger?: CoreLogger;
}

/**
 * The token key as a function to call on first use, not at module load: a read that fails during init fails the
 * module, so the invocation errors with nothing of ours to log or answer, and Lambda starts the whole init again. On
 * first use a passing failure is retried, and a lasting one becomes the handlers' logged 500. From
 * `CHAT_TOKEN_SECRET_ARN` (Secrets Manager, read with retries, kept once read, read again after a failure) or
 * `CHAT_TOKEN_SECRET`. Throws at once, doing no I/O, when neither variable is set.
 */
export function tokenKeyLoader(
  env: Record<string, string | undefined> = process.env,
  options: TokenKeyLoaderOptions = {},
): () => Promise<TokenKey> {
  const source = env.CHAT_TOKEN_SECRET_ARN ? (options.source ?? secretsManagerSourceFromEnv(env)) : undefined;
  const { logger } = options;
  const retry: SecretRetryOptions = logger
    ? {
        onRetry: (error, attempt, delayMs) =>
          logger.warn("token secret read failed; retrying", { code: error.code, attempt, delayMs }),
        ...options.retry,
      }
    : { ...options.retry };
  const secret = tokenSecretLoader(env, source, retry);
  return untilLoaded(async () => tokenKey(await secret()));
}

/** The token key now, for callers that start once and may wait for it (the local stack). */
export function tokenKeyFromEnv(env: Record<string, string | undefined> = process.env): Promise<TokenKey> {
  return tokenKeyLoader(env)();
}
