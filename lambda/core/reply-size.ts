import { limits } from "./limits.ts";

/**
 * A 413 from the management API: the message is over API Gateway's 128 KB and was not delivered. The SDK names it
 * `PayloadTooLargeException`; the status code is checked too, as for a 410 (`isGone`).
 */
export function isPayloadTooLarge(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { name, $metadata } = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
  return name === "PayloadTooLargeException" || $metadata?.httpStatusCode === 413;
}

/** A reply to the sender that cannot be delivered because it is too large: a server fault, since replies are paged. */
export class ReplyTooLargeError extends Error {
  override readonly name = "ReplyTooLargeError";

  constructor(
    readonly frameType: string,
    readonly bytes: number,
    options?: ErrorOptions,
  ) {
    super(`${frameType} reply of ${bytes} bytes is over API Gateway's ${limits.serverFrameMaxBytes}`, options);
  }
}
