import type { MessageFrame, SystemFrame } from "../../lambda/core/server-frames.ts";
import { element } from "./dom.ts";
import { unseenMessages } from "./history.ts";

/** The log keeps this many entries; older ones leave the page so a tab open for days stays light. */
const MAX_ENTRIES = 500;

/** Scrolled within this many pixels of the end counts as "reading the latest": new entries then keep it in view. */
const STICKY_PX = 48;

const clock = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dated = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** Time of day for today's entries; date and time for older ones (history is kept 24 hours). */
export function formatTime(timestamp: number, now: number): string {
  const day = (ms: number) => new Date(ms).toDateString();
  return day(timestamp) === day(now) ? clock.format(timestamp) : dated.format(timestamp);
}

/** How an entry is shown: someone else's message, one of ours, or a server notice. */
export type EntryKind = "other" | "own" | "system";

function timeElement(timestamp: number): HTMLTimeElement {
  const time = element("time", "msg-time", formatTime(timestamp, Date.now()));
  time.dateTime = new Date(timestamp).toISOString();
  time.title = dated.format(timestamp);
  return time;
}

/**
 * The message list: entries kept in timestamp order (a history answer can bring messages older than live ones already
 * shown), each message id at most once, and the view pinned to the newest entry while the reader is there.
 */
export class MessageLog {
  readonly #list: HTMLOListElement;
  /** The scrolling region around the list. */
  readonly #scroller: HTMLElement;
  readonly #ids = new Set<string>();
  /** Whether the reader is at the newest entry, as of the last scroll. */
  #pinned = true;

  constructor(scroller: HTMLElement, list: HTMLOListElement) {
    this.#scroller = scroller;
    this.#list = list;
    scroller.addEventListener("scroll", () => {
      this.#pinned = this.#atEnd();
    });
    // The log shrinks when a notice, a taller draft, the presence panel or a phone keyboard takes room below it.
    new ResizeObserver(() => {
      if (this.#pinned) this.scrollToEnd();
    }).observe(scroller);
  }

  /** Empties the log (another channel). */
  clear(): void {
    this.#list.replaceChildren();
    this.#ids.clear();
  }

  /** Adds chat messages not shown yet; `isOwn` tells ours apart. */
  addMessages(messages: readonly MessageFrame[], isOwn: (from: string) => boolean): void {
    const fresh = unseenMessages(this.#ids, messages);
    if (fresh.length === 0) return;
    this.#keepPinned(() => {
      for (const message of fresh) {
        this.#ids.add(message.id);
        const kind: EntryKind = isOwn(message.from) ? "own" : "other";
        const item = this.#entry(kind, message.timestamp);
        item.dataset.id = message.id;
        item.dataset.from = message.from;
        const meta = element("div", "msg-meta");
        meta.append(element("span", "msg-from", message.from), timeElement(message.timestamp));
        item.append(meta, element("p", "msg-text", message.message));
        this.#insert(item, message.timestamp);
      }
    });
  }

  /** Adds a server notice ("Lucy connected"). */
  addSystem(frame: SystemFrame): void {
    this.#keepPinned(() => {
      const item = this.#entry("system", frame.timestamp);
      item.append(element("span", "msg-text", frame.message), timeElement(frame.timestamp));
      this.#insert(item, frame.timestamp);
    });
  }

  /** Scrolls to the newest entry. */
  scrollToEnd(): void {
    this.#scroller.scrollTop = this.#scroller.scrollHeight;
    this.#pinned = true;
  }

  #entry(kind: EntryKind, timestamp: number): HTMLLIElement {
    const item = element("li", `msg msg-${kind}`);
    item.dataset.kind = kind;
    item.dataset.ts = String(timestamp);
    return item;
  }

  /** Inserts after the last entry not newer than `timestamp`; live entries land at the end in one step. */
  #insert(item: HTMLLIElement, timestamp: number): void {
    let before = this.#list.lastElementChild;
    while (before instanceof HTMLElement && Number(before.dataset.ts) > timestamp)
      before = before.previousElementSibling;
    this.#list.insertBefore(item, before ? before.nextSibling : this.#list.firstChild);
    while (this.#list.childElementCount > MAX_ENTRIES) {
      const oldest = this.#list.firstElementChild;
      if (!(oldest instanceof HTMLElement)) break;
      if (oldest.dataset.id) this.#ids.delete(oldest.dataset.id);
      oldest.remove();
    }
  }

  #atEnd(): boolean {
    const { scrollHeight, scrollTop, clientHeight } = this.#scroller;
    return scrollHeight - scrollTop - clientHeight <= STICKY_PX;
  }

  #keepPinned(change: () => void): void {
    const pinned = this.#atEnd();
    change();
    if (pinned) this.scrollToEnd();
  }
}
