import { compareCodePoints } from "../../lambda/core/names.ts";

/** A direct conversation as the page remembers it: who with, when it last moved, what was read, what was not. */
export interface Conversation {
  readonly with: string;
  /** Timestamp of its newest message (or when it was started here). */
  last: number;
  /** Timestamp of the newest message read. */
  read: number;
  unread: number;
}

const PREFIX = "chat.conversations.";
/** The most conversations remembered per user; the least recent go first. */
const KEEP = 50;

/**
 * The conversations the page knows of for one user, newest activity first, kept in `localStorage` under the user's
 * name so the list survives a reload. Only names, timestamps and counts are kept, never what was said: the messages
 * come from `history` `with` (PROTOCOL §7). The server keeps no list of a user's conversations, so one started
 * elsewhere appears here with its first message.
 */
export class Conversations {
  #user: string | undefined;
  #items = new Map<string, Conversation>();

  /** Switches to `user`'s conversations (storage may be unavailable: then the list lives in the page only). */
  load(user: string): void {
    if (user === this.#user) return;
    this.#user = user;
    this.#items.clear();
    try {
      const stored: unknown = JSON.parse(localStorage.getItem(PREFIX + user) ?? "[]");
      if (!Array.isArray(stored)) return;
      for (const item of stored as Partial<Conversation>[]) {
        if (typeof item?.with !== "string") continue;
        const number = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : 0);
        this.#items.set(item.with, {
          with: item.with,
          last: number(item.last),
          read: number(item.read),
          unread: number(item.unread),
        });
      }
    } catch {
      // Unreadable or blocked storage: start empty.
    }
  }

  /** Newest activity first (then by name, so the order is stable). */
  get list(): Conversation[] {
    return [...this.#items.values()].sort((a, b) => b.last - a.last || compareCodePoints(a.with, b.with));
  }

  /** Unread messages in all conversations. */
  get unread(): number {
    let total = 0;
    for (const item of this.#items.values()) total += item.unread;
    return total;
  }

  get(peer: string): Conversation | undefined {
    return this.#items.get(peer);
  }

  /** The conversation with `peer`, remembered from now on; `at` is when it last moved, if later than known. */
  touch(peer: string, at: number): Conversation {
    let item = this.#items.get(peer);
    if (!item) {
      item = { with: peer, last: at, read: 0, unread: 0 };
      this.#items.set(peer, item);
    }
    item.last = Math.max(item.last, at);
    return item;
  }

  /** Keeps the list for the user (the newest `KEEP`). */
  save(): void {
    if (this.#user === undefined) return;
    const kept = this.list.slice(0, KEEP);
    this.#items = new Map(kept.map((item) => [item.with, item]));
    try {
      if (kept.length === 0) localStorage.removeItem(PREFIX + this.#user);
      else localStorage.setItem(PREFIX + this.#user, JSON.stringify(kept));
    } catch {
      // Storage full or blocked: the list lives in the page only.
    }
  }
}
