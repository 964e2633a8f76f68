import { jitteredDelay, sleep } from "./backoff.ts";
import type { TokenKey } from "./session-token.ts";

/**
 * Where the token secret comes from: `CHAT_TOKEN_SECRET` locally, AWS Secrets Manager (`CHAT_TOKEN_SECRET_ARN`) in the
 * cloud. In the cloud it is read on first use, retried through passing failures, and kept for the life of the
 * execution environment once read; a failure is not kept, so the next invocation tries again.
 */
export interface SecretSource {
  /** Reads the secret string named by `arn`; gives up when `signal` aborts. Fails with a {@link SecretSourceError}. */
  fetch(arn: string, signal?: AbortSignal): Promise<string>;
}

/**
 * A failed read of a secret, as its source classifies it: `retryable` when the failure may pass (throttling, 5xx,
 * refused or reset connections, no answer in time), not when it will not (access denied, no such secret).
 */
export class SecretSourceError extends Error {
  override readonly name = "SecretSourceError";
  /** The service's error type (`ThrottlingException`, `AccessDeniedException`…) or the network error's code. */
  readonly code: string;
  readonly retryable: boolean;
  /** The HTTP status, when the service answered. */
  readonly status?: number;

  constructor(message: string, details: { code: string; retryable: boolean; status?: number }, options?: ErrorOptions) {
    super(message, options);
    this.code = details.code;
    this.retryable = details.retryable;
    if (details.status !== undefined) this.status = details.status;
  }
}

/** The secret cannot be found or read; its message names the variable to set. */
export class MissingSecretError extends Error {
  override readonly name = "MissingSecretError";
}

/**
 * The token secret could not be had within the retry budget, or not at all (access denied, no such secret): the
 * functions answer 500 and log it. Its message is never "Unauthorized", so an authorizer throwing it makes API Gateway
 * answer 500, not 401.
 */
export class TokenSecretUnavailableError extends Error {
  override readonly name = "TokenSecretUnavailableError";
  /** Reads made before giving up. */
  readonly attempts: number;

  constructor(message: string, attempts: number, options?: ErrorOptions) {
    super(message, options);
    this.attempts = attempts;
  }
}

/**
 * Bounds of the secret's read. The authorizer and session functions have 10 seconds (infra/chat-function.ts); the
 * whole read fits in half of that, so a function that gives up still answers its 500 well within its timeout.
 */
export const tokenSecretLimits = {
  /** Reads per first use, the first included. */
  maxAttempts: 6,
  /** Base of the full-jitter backoff between reads (the SDK's standard retry base is 100 ms). */
  retryBaseMs: 100,
  /** No wait between reads is longer than this. */
  retryMaxDelayMs: 1_000,
  /** One read with no answer after this long is abandoned (and retried). */
  attemptTimeoutMs: 2_000,
  /** No read starts, and no read or wait lasts, past this long after the first. */
  budgetMs: 5_000,
} as const;

/** Options of {@link readSecretWithRetry}; each defaults to {@link tokenSecretLimits} or the real clock. */
export interface SecretRetryOptions {
  readonly maxAttempts?: number;
  readonly retryBaseMs?: number;
  readonly retryMaxDelayMs?: number;
  readonly attemptTimeoutMs?: number;
  readonly budgetMs?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Told of each failed read that will be retried, e.g. to log it. */
  readonly onRetry?: (error: SecretSourceError, attempt: number, delayMs: number) => void;
}

const retryable = (error: unknown): error is SecretSourceError => error instanceof SecretSourceError && error.retryable;

/**
 * Reads `arn` from `source`, retrying retryable failures with full-jitter backoff within a bounded number of attempts
 * and a bounded total time; a failure that will not pass ends it at once. Throws {@link TokenSecretUnavailableError}
 * with the last failure as its `cause`.
 */
export async function readSecretWithRetry(
  source: SecretSource,
  arn: string,
  options: SecretRetryOptions = {},
): Promise<string> {
  const limits = { ...tokenSecretLimits, ...options };
  const now = options.now ?? Date.now;
  const wait = options.sleep ?? sleep;
  const deadline = now() + limits.budgetMs;
  for (let attempt = 1; ; attempt++) {
    const timeoutMs = Math.max(1, Math.min(limits.attemptTimeoutMs, deadline - now()));
    try {
      const secret = await source.fetch(arn, AbortSignal.timeout(timeoutMs));
      if (!secret) throw new MissingSecretError(`secret ${arn} has no string value`);
      return secret;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (!retryable(error)) {
        throw new TokenSecretUnavailableError(`the token secret cannot be read: ${reason}`, attempt, { cause: error });
      }
      const delayMs = Math.min(jitteredDelay(attempt - 1, limits.retryBaseMs, options.random), limits.retryMaxDelayMs);
      if (attempt >= limits.maxAttempts || now() + delayMs >= deadline) {
        throw new TokenSecretUnavailableError(
          `the token secret could not be read in ${attempt} attempts within ${limits.budgetMs} ms: ${reason}`,
          attempt,
          { cause: error },
        );
      }
      options.onRetry?.(error, attempt, delayMs);
      await wait(delayMs);
    }
  }
}

/**
 * `load` run on the first call and its promise shared by every caller while it is pending and once it succeeds; a
 * rejected promise is dropped, so the next call loads again instead of failing for the life of the environment.
 */
export function untilLoaded<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    if (!pending) {
      const loading = load();
      pending = loading;
      loading.catch(() => {
        if (pending === loading) pending = undefined;
      });
    }
    return pending;
  };
}

/**
 * The token secret of an environment, as a function to call on first use: from `CHAT_TOKEN_SECRET_ARN` through
 * `source` (read once, retried as {@link readSecretWithRetry} does, and kept), else `CHAT_TOKEN_SECRET` as it is.
 * Throws {@link MissingSecretError} at once, doing no I/O, when neither is set or no source is given for an ARN.
 */
export function tokenSecretLoader(
  env: Record<string, string | undefined>,
  source: SecretSource | undefined,
  retry: SecretRetryOptions = {},
): () => Promise<string> {
  const arn = env.CHAT_TOKEN_SECRET_ARN;
  if (arn) {
    if (!source) throw new MissingSecretError("CHAT_TOKEN_SECRET_ARN is set but no secret source was given");
    return untilLoaded(() => readSecretWithRetry(source, arn, retry));
  }
  const secret = env.CHAT_TOKEN_SECRET;
  if (!secret) throw new MissingSecretError("set CHAT_TOKEN_SECRET (or CHAT_TOKEN_SECRET_ARN in the cloud)");
  return () => Promise.resolve(secret);
}

/** A token key, or a function giving it on first use (lambda/runtime/token-key-from-env.ts). */
export type TokenKeySource = TokenKey | (() => Promise<TokenKey>);

/** `error` as a {@link TokenSecretUnavailableError}: itself when it is one, else wrapped as its `cause`. */
export const asUnavailable = (error: unknown): TokenSecretUnavailableError =>
  error instanceof TokenSecretUnavailableError
    ? error
    : new TokenSecretUnavailableError(
        `the token key is unavailable: ${error instanceof Error ? error.message : String(error)}`,
        0,
        { cause: error },
      );

/** What to log of a key that could not be had: the message, the reads made, and the last failure's code and status. */
export function unavailableFields(error: TokenSecretUnavailableError): Record<string, unknown> {
  const cause = error.cause instanceof SecretSourceError ? error.cause : undefined;
  return {
    error: error.message,
    attempts: error.attempts,
    ...(cause ? { code: cause.code, ...(cause.status !== undefined ? { status: cause.status } : {}) } : {}),
  };
}
