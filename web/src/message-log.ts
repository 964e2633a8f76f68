import type { MessageFrame, SystemFrame } from "../../lambda/core/server-frames.ts";
import { dayKey, dayLabel } from "./day-label.ts";
import { element } from "./dom.ts";
import { unseenMessages } from "./history.ts";
import { linkify } from "./linkify.ts";
import type { Outgoing } from "./outbox.ts";
import { outgoingEntry } from "./outgoing-entry.ts";

/** The log keeps this many entries while the reader is at the end; older ones leave so a tab open for days stays light. */
const MAX_ENTRIES = 500;

/** Scrolled within this many pixels of the end counts as "reading the latest": new entries then keep it in view. */
const STICKY_PX = 48;

/** Within this many pixels of the top, older messages are asked for. */
const TOP_PX = 80;

const clock = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dated = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** Time of day for today's entries; date and time for older ones (history is kept 24 hours). */
export function formatTime(timestamp: number, now: number): string {
  return dayKey(timestamp) === dayKey(now) ? clock.format(timestamp) : dated.format(timestamp);
}

/** How an entry is shown: someone else's message, one of ours, or a server notice. */
export type EntryKind = "other" | "own" | "system";

/** A message's place in history, as the `before` / `after` cursors take it (PROTOCOL §4). */
export interface Cursor {
  readonly timestamp: number;
  readonly id: string;
}

/** What the log tells the page. */
export interface MessageLogHooks {
  /** The reader scrolled to the top: time to ask for older messages. */
  nearTop(): void;
  /** Retry (all failed messages) or Discard (this one) on a failed entry. */
  retry(): void;
  discard(entry: Outgoing): void;
}

function timeElement(timestamp: number): HTMLTimeElement {
  const time = element("time", "msg-time", formatTime(timestamp, Date.now()));
  time.dateTime = new Date(timestamp).toISOString();
  time.title = dated.format(timestamp);
  return time;
}

/** Entries that hold a place in time (not dividers, not messages on their way). */
const timed = (node: Element | null): node is HTMLElement =>
  node instanceof HTMLElement && node.dataset.ts !== undefined;

/**
 * The message list: entries kept in timestamp order (history can bring messages older than those shown), each message
 * id at most once, a divider before each day, our messages on their way at the end, and the view pinned to the
 * newest entry while the reader is there. Scrolled up, new messages raise a "new messages" button instead of moving
 * the text being read.
 */
export class MessageLog {
  readonly #list: HTMLOListElement;
  readonly #scroller: HTMLElement;
  readonly #jump: HTMLButtonElement;
  readonly #hooks: MessageLogHooks;
  readonly #ids = new Set<string>();
  readonly #outgoing = new Map<number, HTMLLIElement>();
  #pinned = true;
  #unseen = 0;

  constructor(scroller: HTMLElement, list: HTMLOListElement, jump: HTMLButtonElement, hooks: MessageLogHooks) {
    this.#scroller = scroller;
    this.#list = list;
    this.#jump = jump;
    this.#hooks = hooks;
    scroller.addEventListener("scroll", () => {
      this.#pinned = this.#atEnd();
      if (this.#pinned) this.#markSeen();
      if (scroller.scrollTop <= TOP_PX && scroller.scrollHeight > scroller.clientHeight) hooks.nearTop();
    });
    jump.addEventListener("click", () => this.scrollToEnd());
    // The log shrinks when a notice, a taller draft, the presence panel or a phone keyboard takes room below it.
    new ResizeObserver(() => {
      if (this.#pinned) this.scrollToEnd();
    }).observe(scroller);
  }

  /** Empties the log (another channel). */
  clear(): void {
    this.#list.replaceChildren();
    this.#ids.clear();
    this.#outgoing.clear();
    this.#markSeen();
    this.#pinned = true;
  }

  /** The oldest and newest message shown, as history cursors. */
  get oldest(): Cursor | undefined {
    return this.#cursor(this.#list.querySelector("li.msg[data-id]"));
  }
  get newest(): Cursor | undefined {
    const all = this.#list.querySelectorAll("li.msg[data-id]");
    return this.#cursor(all.item(all.length - 1));
  }

  /** Adds chat messages not shown yet; `isOwn` tells ours apart; `live` ones scrolled out of view raise the marker. */
  addMessages(messages: readonly MessageFrame[], isOwn: (from: string) => boolean, live: boolean): void {
    const fresh = unseenMessages(this.#ids, messages);
    if (fresh.length === 0) return;
    this.#change(
      () => {
        for (const message of fresh) {
          this.#ids.add(message.id);
          const kind: EntryKind = isOwn(message.from) ? "own" : "other";
          const item = this.#entry(kind, message.timestamp);
          item.dataset.id = message.id;
          item.dataset.from = message.from;
          const meta = element("div", "msg-meta");
          meta.append(element("span", "msg-from", message.from), timeElement(message.timestamp));
          const text = element("p", "msg-text");
          text.append(...linkify(message.message));
          item.append(meta, text);
          this.#insert(item, message.timestamp);
        }
      },
      live ? fresh.length : 0,
    );
  }

  /** Adds a server notice ("Lucy connected"). */
  addSystem(frame: SystemFrame): void {
    this.#change(() => {
      const item = this.#entry("system", frame.timestamp);
      item.append(element("span", "msg-text", frame.message), timeElement(frame.timestamp));
      this.#insert(item, frame.timestamp);
    }, 0);
  }

  /** Shows one of our messages on its way (sending, waiting, or failed with Retry), at the end of the log. */
  showOutgoing(entry: Outgoing): void {
    const item = outgoingEntry(entry, this.#hooks);
    const old = this.#outgoing.get(entry.key);
    this.#outgoing.set(entry.key, item);
    this.#change(() => (old ? old.replaceWith(item) : this.#list.append(item)), 0);
    if (!old) this.scrollToEnd();
  }

  /** Takes a message on its way out of the log (confirmed: the real one is shown; or discarded). */
  dropOutgoing(entry: Outgoing): void {
    this.#outgoing.get(entry.key)?.remove();
    this.#outgoing.delete(entry.key);
  }

  /** Scrolls to the newest entry. */
  scrollToEnd(): void {
    this.#scroller.scrollTop = this.#scroller.scrollHeight;
    this.#pinned = true;
    this.#markSeen();
  }

  #cursor(node: Element | null): Cursor | undefined {
    if (!(node instanceof HTMLElement) || !node.dataset.id) return undefined;
    return { timestamp: Number(node.dataset.ts), id: node.dataset.id };
  }

  #entry(kind: EntryKind, timestamp: number): HTMLLIElement {
    const item = element("li", `msg msg-${kind}`);
    item.dataset.kind = kind;
    item.dataset.ts = String(timestamp);
    return item;
  }

  /** Inserts after the last timed entry not newer than `timestamp` (before our messages on their way). */
  #insert(item: HTMLLIElement, timestamp: number): void {
    let before = this.#list.lastElementChild;
    while (before && (!timed(before) || Number(before.dataset.ts) > timestamp)) before = before.previousElementSibling;
    this.#list.insertBefore(item, before ? before.nextSibling : this.#list.firstChild);
  }

  /** Runs `change`, then re-draws day dividers, trims, and keeps the reader's place: the end, or the entry in view. */
  #change(change: () => void, added: number): void {
    const pinned = this.#atEnd();
    const anchor = pinned ? undefined : this.#firstVisible();
    const top = anchor?.getBoundingClientRect().top ?? 0;
    change();
    this.#redivide();
    if (pinned) {
      this.#trim();
      this.scrollToEnd();
    } else {
      if (anchor?.isConnected) this.#scroller.scrollTop += anchor.getBoundingClientRect().top - top;
      if (added > 0) this.#markUnseen(added);
    }
  }

  #firstVisible(): Element | undefined {
    const top = this.#scroller.getBoundingClientRect().top;
    // Dividers are redrawn by every change, so the anchor is an entry.
    for (const item of this.#list.querySelectorAll(":scope > li.msg"))
      if (item.getBoundingClientRect().bottom > top) return item;
    return undefined;
  }

  /** A divider before the first entry of each day ("Today", "Yesterday", a date). */
  #redivide(): void {
    for (const divider of this.#list.querySelectorAll(":scope > li.day-divider")) divider.remove();
    const now = Date.now();
    let day: string | undefined;
    for (const item of [...this.#list.children]) {
      if (!timed(item)) continue;
      const ts = Number(item.dataset.ts);
      if (dayKey(ts) === day) continue;
      day = dayKey(ts);
      const divider = element("li", "day-divider");
      divider.append(element("span", "day-divider-label", dayLabel(ts, now)));
      item.before(divider);
    }
  }

  #trim(): void {
    const items = this.#list.querySelectorAll(":scope > li[data-ts]");
    for (let i = 0; i < items.length - MAX_ENTRIES; i++) {
      const item = items.item(i) as HTMLElement;
      if (item.dataset.id) this.#ids.delete(item.dataset.id);
      item.remove();
    }
    const first = this.#list.firstElementChild;
    if (first?.classList.contains("day-divider") && !timed(first.nextElementSibling)) first.remove();
  }

  #markUnseen(count: number): void {
    this.#unseen += count;
    this.#jump.textContent = this.#unseen === 1 ? "1 new message ↓" : `${this.#unseen} new messages ↓`;
    this.#jump.hidden = false;
  }

  #markSeen(): void {
    this.#unseen = 0;
    this.#jump.hidden = true;
  }

  #atEnd(): boolean {
    const { scrollHeight, scrollTop, clientHeight } = this.#scroller;
    return scrollHeight - scrollTop - clientHeight <= STICKY_PX;
  }
}
