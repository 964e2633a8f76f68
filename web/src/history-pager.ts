import type { Cursor } from "./message-log.ts";

/** A history request as PROTOCOL §4 takes it: the newest page, or the page before or after a message. */
export type HistoryPosition = { before?: Cursor; after?: Cursor };

type Ask = { kind: "latest" } | { kind: "before" } | { kind: "after" };

/** No answer within this and the request is given up (an error frame may have answered it). */
const ANSWER_MS = 10_000;

/** What the pager needs from the page. */
export interface PagerHooks {
  /** Sends `{"action":"history", …position}`; `false` when no connection is open. */
  request(position: HistoryPosition): boolean;
  /** The log holds everything up to now (the newest page, or the whole gap after a reconnect). */
  caughtUp(): void;
}

/**
 * Pages through history (PROTOCOL §4), one request at a time so each answer is known to answer it. On the first
 * connect it asks for the newest page; after a reconnect it asks `after` the newest message held, again and again
 * while `more` is true, so a gap of any length is filled; scrolled to the top it asks `before` the oldest.
 */
export class HistoryPager {
  readonly #hooks: PagerHooks;
  #asked: Ask | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #olderMore = false;

  constructor(hooks: PagerHooks) {
    this.#hooks = hooks;
  }

  /** Whether older messages than those held exist, as of the last answer. */
  get olderMore(): boolean {
    return this.#olderMore;
  }

  /** Another channel: nothing asked, nothing known. */
  reset(): void {
    clearTimeout(this.#timer);
    this.#asked = undefined;
    this.#olderMore = false;
  }

  /** A connection opened; `newest` is the newest message the log holds, if any. */
  opened(newest: Cursor | undefined): void {
    this.#asked = undefined;
    if (newest) this.#ask({ kind: "after" }, { after: newest });
    else this.#ask({ kind: "latest" }, {});
  }

  /** The reader reached the top; `oldest` is the oldest message the log holds. */
  wantOlder(oldest: Cursor | undefined): void {
    if (this.#asked || !this.#olderMore || !oldest) return;
    this.#ask({ kind: "before" }, { before: oldest });
  }

  /** A history answer came: whether its messages are new to the reader (`live`), as opposed to older ones. */
  answered(messages: readonly Cursor[], more: boolean): { live: boolean } {
    const asked = this.#asked;
    clearTimeout(this.#timer);
    this.#asked = undefined;
    if (asked?.kind === "before") {
      this.#olderMore = more;
      return { live: false };
    }
    if (asked?.kind === "after") {
      const last = messages[messages.length - 1];
      if (more && last) this.#ask({ kind: "after" }, { after: { timestamp: last.timestamp, id: last.id } });
      else this.#hooks.caughtUp();
      return { live: true };
    }
    this.#olderMore = more;
    this.#hooks.caughtUp();
    return { live: false };
  }

  /** Whether a request is waiting for its answer (an error frame may be about it). */
  get waiting(): boolean {
    return this.#asked !== undefined;
  }

  /** The request waiting was refused (an error frame): give it up, and carry on as if caught up. */
  refused(): void {
    const asked = this.#asked;
    clearTimeout(this.#timer);
    this.#asked = undefined;
    if (asked && asked.kind !== "before") this.#hooks.caughtUp();
  }

  #ask(ask: Ask, position: HistoryPosition): void {
    if (!this.#hooks.request(position)) return;
    this.#asked = ask;
    this.#timer = setTimeout(() => this.refused(), ANSWER_MS);
  }
}
