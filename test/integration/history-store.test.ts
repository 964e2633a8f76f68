import fc from "fast-check";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { HistoryPageBudget } from "../../lambda/core/frame-size.ts";
import { type HistoryPage, HistoryStore } from "../../lambda/core/history-store.ts";
import { historyFrame, type MessageFrame } from "../../lambda/core/server-frames.ts";
import { NOW } from "../fixtures.ts";
import { useTestTables } from "./harness.ts";

// The history store against each local store (dynalite, DynamoDB Local): key ranges as DynamoDB evaluates them,
// with a fixed clock. The clock is in the past, so TTL stays off: DynamoDB Local would delete the items as soon as
// they are written.

const tables = useTestTables("h");

const store = (now = NOW) => new HistoryStore(tables.doc, tables.names.history, { now: () => now });
let ids = 0;
const frame = (channel: string, timestamp: number, from = "Lucy"): MessageFrame => ({
  type: "message",
  id: `m${++ids}`,
  from,
  message: `at ${timestamp}`,
  channel,
  timestamp,
});

const byTime = (a: MessageFrame, b: MessageFrame) =>
  a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const cursorOf = ({ timestamp, id }: MessageFrame) => ({ timestamp, id });
const encodedBytes = (channel: string, page: HistoryPage) =>
  Buffer.byteLength(JSON.stringify(historyFrame(channel, page.messages, page.more)));

/** Every page from the newest back (`before`) or from `start` forward (`after`), with the items each read scanned. */
async function allPages(history: HistoryStore, channel: string, direction: "before" | "after", start?: MessageFrame) {
  const pages: { page: HistoryPage; scanned: number }[] = [];
  let cursor = start;
  for (;;) {
    const scanned = countScanned();
    const position = cursor ? { [direction]: cursorOf(cursor) } : {};
    const page = await history.page(channel, position, new HistoryPageBudget(channel));
    pages.push({ page, scanned: scanned() });
    if (!page.more) return pages;
    cursor = (direction === "before" ? page.messages[0] : page.messages.at(-1)) as MessageFrame | undefined;
    if (!cursor) throw new Error("a page that says more must hold a message");
  }
}

/** Items DynamoDB evaluated (`ScannedCount`) for history queries from now until the returned function is called. */
function countScanned(): () => number {
  let scanned = 0;
  const send = tables.doc.send.bind(tables.doc);
  const spy = vi.spyOn(tables.doc, "send").mockImplementation((async (command: unknown) => {
    const output = await send(command as never);
    scanned += (output as { ScannedCount?: number }).ScannedCount ?? 0;
    return output;
  }) as never);
  return () => {
    spy.mockRestore();
    return scanned;
  };
}

describe("history store on dynalite: the newest page", () => {
  it("holds the newest messages by time, oldest first", async () => {
    const message = fc.record({
      window: fc.integer({ min: 0, max: 5 }),
      offset: fc.integer({ min: 0, max: 9_999 }),
      sender: fc.constantFrom("zed", "amy", "kim", "bo"),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(message, { minLength: 30, maxLength: 160 }),
        fc.integer({ min: 1, max: 50 }),
        async (sent, count) => {
          const channel = `recent-${++run}`;
          const frames = sent
            .map(({ window, offset, sender }) => ({
              sender,
              frame: frame(channel, NOW + window * 10_000 + offset, sender),
            }))
            .sort((a, b) => a.frame.timestamp - b.frame.timestamp);
          const kept: MessageFrame[] = [];
          for (const { frame: message } of frames) {
            await store().append(message);
            kept.push(message);
          }
          const history = store(NOW + 60_000);
          const expected = kept.sort(byTime).slice(-count);
          await expect(history.page(channel, {}, new HistoryPageBudget(channel, count))).resolves.toEqual({
            messages: expected,
            more: kept.length > count,
          });
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);

  it("leaves expired messages out, however many of them are stored, and says no more past the last kept", async () => {
    const day = 86_400_000;
    const old = Array.from({ length: 120 }, (_, i) => frame("expiry", NOW - day - 60_000 + i * 400, `old${i % 6}`));
    const fresh = [frame("expiry", NOW - day + 1_500), frame("expiry", NOW - 5)];
    for (const message of [...old, ...fresh]) await store().append(message);
    await expect(store().page("expiry", {}, new HistoryPageBudget("expiry"))).resolves.toEqual({
      messages: fresh,
      more: false,
    });
    await expect(
      store().page("expiry", { before: cursorOf(fresh[0] as MessageFrame) }, new HistoryPageBudget("expiry")),
    ).resolves.toEqual({ messages: [], more: false });
  });
});

describe("history store on dynalite: paging through all of it", () => {
  // 300 messages in 10-second windows over 20 minutes, several to a window, from 12 senders, many sharing a timestamp (so
  // ids decide the order), ids in no relation to the order of writing. A fixed pseudo-random sequence keeps the test
  // reproducible.
  const channel = "paging";
  const all: MessageFrame[] = [];
  const reader = () => store(NOW + 3 * 3_600_000);
  beforeAll(async () => {
    let seed = 7;
    const random = (below: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * below); // the high bits: the low ones of this generator repeat quickly
    };
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      const sender = `c${random(12)}`;
      const timestamp = NOW + random(120) * 10_000 + random(4);
      const message = { ...frame(channel, timestamp, sender), id: `id-${random(1e9).toString(36)}-${i}` };
      writes.push(store().append(message));
      all.push(message);
    }
    await Promise.all(writes);
    all.sort(byTime);
  });

  it("yields every message exactly once in (timestamp, id) order going back with before", async () => {
    expect(all.length).toBeGreaterThan(290);
    expect(new Set(all.map((message) => Math.floor(message.timestamp / 10_000))).size).toBeGreaterThan(30);
    expect(new Set(all.map((message) => message.from)).size).toBe(12);
    const pages = await allPages(reader(), channel, "before");
    const seen = pages.toReversed().flatMap(({ page }) => page.messages);
    expect(seen).toEqual(all);
    expect(pages.map(({ page }) => page.more)).toEqual([...pages.slice(1).map(() => true), false]);
    for (const { page } of pages.slice(0, -1)) expect(page.messages).toHaveLength(50);
    // Bounded reads: each page reads itself and one item more.
    for (const { scanned } of pages) expect(scanned).toBeLessThanOrEqual(51);
  });

  it("yields every message after the oldest exactly once in order going forward with after", async () => {
    const [oldest] = all;
    const pages = await allPages(reader(), channel, "after", oldest);
    expect(pages.flatMap(({ page }) => page.messages)).toEqual(all.slice(1));
    expect(pages.map(({ page }) => page.more)).toEqual([...pages.slice(1).map(() => true), false]);
    for (const { scanned } of pages) expect(scanned).toBeLessThanOrEqual(51);
  });

  it("says exactly whether more exists at both ends", async () => {
    const history = reader();
    const first = all[0] as MessageFrame;
    const last = all.at(-1) as MessageFrame;
    const budget = () => new HistoryPageBudget(channel);
    await expect(history.page(channel, { before: cursorOf(first) }, budget())).resolves.toEqual({
      messages: [],
      more: false,
    });
    await expect(history.page(channel, { after: cursorOf(last) }, budget())).resolves.toEqual({
      messages: [],
      more: false,
    });
    await expect(history.page(channel, { before: cursorOf(all[50] as MessageFrame) }, budget())).resolves.toEqual({
      messages: all.slice(0, 50),
      more: false,
    });
    await expect(history.page(channel, { before: cursorOf(all[51] as MessageFrame) }, budget())).resolves.toEqual({
      messages: all.slice(1, 51),
      more: true,
    });
    const tail = all.length - 51;
    await expect(history.page(channel, { after: cursorOf(all[tail] as MessageFrame) }, budget())).resolves.toEqual({
      messages: all.slice(tail + 1),
      more: false,
    });
    await expect(history.page(channel, { after: cursorOf(all[tail - 1] as MessageFrame) }, budget())).resolves.toEqual({
      messages: all.slice(tail, tail + 50),
      more: true,
    });
  });
});

describe("history store on dynalite: pages within 128 KiB", () => {
  it("pages 50 messages of 4,000 control characters in frames of at most 128 KiB, each message once", async () => {
    const channel = "c".repeat(64);
    const sent: MessageFrame[] = [];
    for (let i = 0; i < 50; i++) {
      const message = {
        ...frame(channel, NOW + i * 250, "𝐀".repeat(32)),
        // Control characters that JSON escapes to six bytes (\u0000); \n and the like take two.
        message: String.fromCharCode([0, 1, 2, 3, 4, 5, 6, 7, 11, 14, 31][i % 11] as number).repeat(4_000),
      };
      await store().append(message);
      sent.push(message);
    }
    expect(sent).toHaveLength(50);
    const history = store(NOW + 60_000);
    for (const direction of ["before", "after"] as const) {
      const pages = await allPages(history, channel, direction, direction === "after" ? sent[0] : undefined);
      const seen = pages.flatMap(({ page }) => page.messages as MessageFrame[]);
      expect(seen.sort(byTime)).toEqual(direction === "after" ? sent.slice(1) : sent);
      for (const { page } of pages) {
        expect(page.messages.length).toBeGreaterThan(0);
        expect(encodedBytes(channel, page)).toBeLessThanOrEqual(128 * 1024);
      }
      expect(pages).toHaveLength(10); // five of these messages to a frame
    }
  });
});

describe("history store on dynalite: a rush", () => {
  // 200 senders × 5 messages within 10 seconds (1,000 items) between two quiet spells, many sharing a timestamp: the
  // rush pages like any other time, 50 to a page, by (timestamp, id).
  const channel = "crowded";
  const all: MessageFrame[] = [];
  const reader = (options = {}) =>
    new HistoryStore(tables.doc, tables.names.history, { now: () => NOW + 3_600_000, ...options });
  beforeAll(async () => {
    const messages: { message: MessageFrame; sender: string }[] = [];
    for (let i = 0; i < 10; i++) messages.push({ message: frame(channel, NOW - 10_000 + i, "early"), sender: "early" });
    for (let sender = 0; sender < 200; sender++) {
      for (let i = 0; i < 5; i++) {
        const timestamp = NOW + ((sender * 37 + i * 1_999) % 10_000);
        messages.push({ message: frame(channel, timestamp, `s${sender}`), sender: `s${sender}` });
      }
    }
    for (let i = 0; i < 10; i++) messages.push({ message: frame(channel, NOW + 10_000 + i, "late"), sender: "late" });
    for (let start = 0; start < messages.length; start += 50) {
      const batch = messages.slice(start, start + 50);
      await Promise.all(batch.map(({ message }) => store().append(message)));
    }
    all.push(...messages.map(({ message }) => message).sort(byTime));
  }, 60_000);

  it("yields every message exactly once in order going back, then forward, with more exact at each page", async () => {
    expect(all).toHaveLength(1_020);
    const back = await allPages(reader(), channel, "before");
    expect(back.toReversed().flatMap(({ page }) => page.messages)).toEqual(all);
    expect(back.map(({ page }) => page.more)).toEqual([...back.slice(1).map(() => true), false]);
    const forward = await allPages(reader(), channel, "after", all[0]);
    expect(forward.flatMap(({ page }) => page.messages)).toEqual(all.slice(1));
    expect(forward.map(({ page }) => page.more)).toEqual([...forward.slice(1).map(() => true), false]);
    // However crowded the time, a page reads itself and one item more (the cursor's page going back: one past it).
    for (const { scanned } of [...back, ...forward]) expect(scanned).toBeLessThanOrEqual(52);
  });
});
