import { limits } from "./limits.ts";

/** An answer to the sender over API Gateway's 128 KB, which it could not deliver: a server fault, since replies are paged. */
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
