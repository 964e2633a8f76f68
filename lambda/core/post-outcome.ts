/** What became of one post: delivered, the connection is gone (410), or it failed for another reason. */
export type PostOutcome = { status: "delivered" } | { status: "gone" } | { status: "failed"; error: unknown };

/** Options of one post. */
export interface PostOptions {
  /**
   * The longest the post may take, its retries included; a post still unanswered then fails (and is not made again:
   * it may have been delivered). Default: the poster's own timeout per attempt.
   */
  readonly timeoutMs?: number;
}

/** Sends bytes to one connection. */
export interface Poster {
  post(connectionId: string, data: Uint8Array, options?: PostOptions): Promise<PostOutcome>;
  /**
   * Closes a connection (the management API's DeleteConnection): `delivered` once closed, `gone` when it was gone
   * already. Posters that never close (test doubles of fan-outs) may leave it out.
   */
  close?(connectionId: string): Promise<PostOutcome>;
  /**
   * Asks whether a connection is live (the management API's GetConnection): `delivered` when it is, `gone` when API
   * Gateway answers 410. Posters that never probe (test doubles of fan-outs) may leave it out.
   */
  probe?(connectionId: string): Promise<PostOutcome>;
}

/** Network errors raised before a request reached API Gateway: posting again cannot deliver twice. */
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * Whether a failed post should be made again: API Gateway refused it for now (429: throttled, or the client's buffer
 * full) or failed on its side (5xx), or it never left this machine (a refused connection, or a kept-alive socket the
 * server had closed as the post reused it: the poster marks those `notSent`). A post that got no answer (a timeout, a reset
 * connection) may have been delivered, and posting again would deliver it twice: it is counted as failed instead.
 */
export function isRetryable(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { $metadata, code, notSent } = error as {
    $metadata?: { httpStatusCode?: unknown };
    code?: unknown;
    notSent?: unknown;
  };
  const status = $metadata?.httpStatusCode;
  if (typeof status === "number") return status === 429 || status >= 500;
  // The poster's mark for a reset of a reused keep-alive socket before any answer: the request never left.
  if (notSent === true) return true;
  return typeof code === "string" && NOT_SENT.has(code);
}

/**
 * A 410 from the management API: the connection no longer exists. The SDK names it `GoneException` when API Gateway
 * sends the error type; the status code is checked too so a bare 410 is never mistaken for a failure to retry.
 */
export function isGone(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { name, $metadata } = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
  return name === "GoneException" || $metadata?.httpStatusCode === 410;
}

/**
 * A refused post of the lean poster (`signedHttpPoster`), shaped as the SDK's service errors are: `name` is API Gateway's error
 * type (`GoneException`, `LimitExceededException`, …) and `$metadata.httpStatusCode` its status, which is what
 * {@link isGone} and {@link isRetryable} read.
 */
export class PostToConnectionError extends Error {
  override readonly name: string;
  readonly $metadata: { readonly httpStatusCode: number; readonly requestId?: string };

  constructor(type: string, status: number, message: string, requestId?: string) {
    super(message || `PostToConnection answered ${status}`);
    this.name = type;
    this.$metadata = { httpStatusCode: status, ...(requestId ? { requestId } : {}) };
  }
}

/** A post that got no answer within its time: it may still have been delivered, so it is not made again. */
export class PostTimeoutError extends Error {
  override readonly name = "PostTimeoutError";

  constructor(readonly timeoutMs: number) {
    super(`PostToConnection: no answer in ${timeoutMs} ms`);
  }
}
