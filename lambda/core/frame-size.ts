import { limits } from "./limits.ts";
import { type HistorySource, historyFrame, type ServerFrame, type StoredFrame } from "./server-frames.ts";

/** A frame as it goes on the wire: the UTF-8 bytes of its JSON. */
export const encodeFrame = (frame: ServerFrame): Buffer => Buffer.from(JSON.stringify(frame));

/** Bytes of a value's JSON, as {@link encodeFrame} counts them. */
const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

/** Takes messages into a page while they fit; what the history store fills a page with. */
export interface PageBudget {
  /** Takes `message` into the page and answers true, or answers false (and takes nothing) when it does not fit. */
  admit(message: StoredFrame): boolean;
  /** True once no message at all can be taken (the page holds its most messages). */
  readonly full: boolean;
}

/**
 * The budget of one history frame: at most `maxMessages` messages, and the frame's encoded size within `maxBytes`.
 * Sizes are counted, not estimated: the frame is its envelope with `[]` filled by the messages' own JSON, joined by
 * commas, so the sum is exactly what {@link encodeFrame} will produce (`more` counted as `false`, the longer).
 */
export class HistoryPageBudget implements PageBudget {
  private count = 0;
  private bytes: number;

  constructor(
    source: string | HistorySource,
    private readonly maxMessages: number = limits.historySize,
    private readonly maxBytes: number = limits.serverFrameMaxBytes,
  ) {
    this.bytes = jsonBytes(historyFrame(source, [], false));
  }

  admit(message: StoredFrame): boolean {
    if (this.full) return false;
    const added = jsonBytes(message) + (this.count > 0 ? 1 : 0);
    if (this.bytes + added > this.maxBytes) return false;
    this.bytes += added;
    this.count++;
    return true;
  }

  get full(): boolean {
    return this.count >= this.maxMessages;
  }

  /** The encoded size of the frame of the messages taken so far. */
  get frameBytes(): number {
    return this.bytes;
  }
}
