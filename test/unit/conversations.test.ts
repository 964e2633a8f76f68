import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Conversations } from "../../web/src/conversations.ts";

/** A `localStorage` of the page, in memory. */
function memoryStorage(): Storage {
  const items = new Map<string, string>();
  return {
    get length() {
      return items.size;
    },
    clear: () => items.clear(),
    getItem: (key) => items.get(key) ?? null,
    key: (index) => [...items.keys()][index] ?? null,
    removeItem: (key) => void items.delete(key),
    setItem: (key, value) => void items.set(key, String(value)),
  };
}

describe("Conversations", () => {
  beforeEach(() => vi.stubGlobal("localStorage", memoryStorage()));
  afterEach(() => vi.unstubAllGlobals());

  it("lists conversations newest activity first, and counts their unread messages", () => {
    const list = new Conversations();
    list.load("Bob");
    list.touch("Lucy", 100).unread = 2;
    list.touch("Carol", 300).unread = 1;
    list.touch("Ann", 200);
    list.touch("Lucy", 50);
    expect(list.list.map((item) => item.with)).toEqual(["Carol", "Ann", "Lucy"]);
    expect(list.unread).toBe(3);
  });

  it("keeps names, times and counts per user across a reload, and nothing when there is nothing", () => {
    const first = new Conversations();
    first.load("Bob");
    first.save();
    expect(localStorage.length).toBe(0);
    const lucy = first.touch("Lucy", 100);
    lucy.read = 90;
    lucy.unread = 1;
    first.save();

    const again = new Conversations();
    again.load("Bob");
    expect(again.list).toEqual([{ with: "Lucy", last: 100, read: 90, unread: 1 }]);
    again.load("Ann");
    expect(again.list).toEqual([]);
  });

  it("keeps the 50 most recent, and reads damaged storage as empty", () => {
    const list = new Conversations();
    list.load("Bob");
    for (let i = 0; i < 60; i++) list.touch(`Peer ${i}`, i);
    list.save();
    expect(list.list).toHaveLength(50);
    expect(list.list.at(-1)?.with).toBe("Peer 10");

    localStorage.setItem("chat.conversations.Eve", "{not json");
    const damaged = new Conversations();
    damaged.load("Eve");
    expect(damaged.list).toEqual([]);
    localStorage.setItem("chat.conversations.Zed", JSON.stringify([{ with: 3 }, { with: "Kim", last: "x" }]));
    damaged.load("Zed");
    expect(damaged.list).toEqual([{ with: "Kim", last: 0, read: 0, unread: 0 }]);
  });
});
