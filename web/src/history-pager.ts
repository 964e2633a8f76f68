import type { Cursor } from "./message-log.ts";
import { RetriedRequest, type RetryTiming } from "./retried-request.ts";

/** A history request as PROTOCOL §4 takes it: the newest page, or the page before or after a message. */
export type HistoryPosition = { before?: Cursor; after?: Cursor };

/** Which page is asked for: the newest, one older than those held, or one newer (filling a gap). */
export type PageKind = "latest" | "before" | "after";

/** What the pager needs from the page. */
export interface PagerHooks {
  /** Sends `{"action":"history", …position}`; `false` when no connection is open. */
  request(position: HistoryPosition): boolean;
  /** The log holds everything up to now (the newest page, or the whole gap after a reconnect). */
  caughtUp(): void;
  /** A page was refused or unanswered again and again, and is given up: messages are missing, say so. */
  failed(kind: PageKind): void;
}

/**
 * Pages through history (PROTOCOL §4), one request at a time so each answer is known to answer it. On the first
 * connect it asks for the newest page; after a reconnect it asks `after` the newest message held, again and again
 * while `more` is true, so a gap of any length is filled; scrolled to the top it asks `before` the oldest. A request
 * refused (the rate counts the page's own requests too) is asked again in the next rate window, a few times, then
 * given up with `failed`: never taken for caught up.
 */
export class HistoryPager {
  readonly #hooks: PagerHooks;
  readonly #request: RetriedRequest;
  #asked: { kind: PageKind; position: HistoryPosition } | undefined;
  #olderMore = false;

  constructor(hooks: PagerHooks, timing?: RetryTiming) {
    this.#hooks = hooks;
    this.#request = new RetriedRequest(
      {
        send: () => {
          const asked = this.#asked;
          if (asked && hooks.request(asked.position)) return true;
          this.#asked = undefined;
          return false;
        },
        gaveUp: () => {
          const asked = this.#asked;
          this.#asked = undefined;
          if (asked) hooks.failed(asked.kind);
        },
      },
      timing,
    );
  }

  /** Whether older messages than those held exist, as of the last answer. */
  get olderMore(): boolean {
    return this.#olderMore;
  }

  /** Another channel: nothing asked, nothing known. */
  reset(): void {
    this.#request.stop();
    this.#asked = undefined;
    this.#olderMore = false;
  }

  /** A connection opened; `newest` is the newest message the log holds, if any. */
  opened(newest: Cursor | undefined): void {
    this.#request.stop();
    this.#asked = undefined;
    if (newest) this.#ask("after", { after: newest });
    else this.#ask("latest", {});
  }

  /** The reader reached the top; `oldest` is the oldest message the log holds. */
  wantOlder(oldest: Cursor | undefined): void {
    if (this.#asked || !this.#olderMore || !oldest) return;
    this.#ask("before", { before: oldest });
  }

  /** A history answer came: whether its messages are new to the reader (`live`), as opposed to older ones. */
  answered(messages: readonly Cursor[], more: boolean): { live: boolean } {
    const kind = this.#asked?.kind;
    this.#request.answered();
    this.#asked = undefined;
    // Unasked (a second answer to a page asked again): its messages are merged, and nothing else follows from it.
    if (kind === undefined) return { live: false };
    if (kind === "before") {
      this.#olderMore = more;
      return { live: false };
    }
    if (kind === "after") {
      const last = messages[messages.length - 1];
      if (more && last) this.#ask("after", { after: { timestamp: last.timestamp, id: last.id } });
      else this.#hooks.caughtUp();
      return { live: true };
    }
    this.#olderMore = more;
    this.#hooks.caughtUp();
    return { live: false };
  }

  /** Whether a request waits for its answer (on the wire, or to be asked again). */
  get waiting(): boolean {
    return this.#request.pending;
  }

  /** An error frame nothing else claimed: it may refuse the page on the wire, which is then asked again later. */
  refused(): void {
    this.#request.refused();
  }

  #ask(kind: PageKind, position: HistoryPosition): void {
    this.#asked = { kind, position };
    this.#request.start();
  }
}
