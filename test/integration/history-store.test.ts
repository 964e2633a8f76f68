import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { HistoryPageBudget } from "../../lambda/core/frame-size.ts";
import { type HistoryPage, HistoryReadLimitError, HistoryStore } from "../../lambda/core/history-store.ts";
import { historyFrame, type MessageFrame } from "../../lambda/core/server-frames.ts";
import { documentClient } from "../../lambda/runtime/aws-clients.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws.ts";
import type { LocalDynamo } from "../../local/local-dynamo.ts";
import { NOW } from "../fixtures.ts";
import { startTestDynamo } from "./harness.ts";

// The history store against each local store (dynalite, DynamoDB Local): conditional writes and key ranges as
// DynamoDB evaluates them, with a fixed clock, so window edges fall where the test puts them. The clock is in the past, so TTL stays off: DynamoDB Local
// would delete the items as soon as they are written.

let names = { connections: "h-connections", history: "h-history", presence: "h-presence", rates: "h-rates" };
let dynamo: LocalDynamo;
let doc: ReturnType<typeof documentClient>;
beforeAll(async () => {
  const started = await startTestDynamo(names, { ttl: false });
  dynamo = started;
  names = started.names;
  doc = documentClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, dynamoEndpoint: dynamo.endpoint });
});
afterAll(async () => {
  doc.destroy();
  await dynamo.close();
});

const store = (now = NOW) => new HistoryStore(doc, names.history, { now: () => now });
let ids = 0;
const frame = (channel: string, timestamp: number, from = "Lucy"): MessageFrame => ({
  type: "message",
  id: `m${++ids}`,
  from,
  message: `at ${timestamp}`,
  channel,
  timestamp,
});

/** What the chat does per message: read the sender's slots, then claim one. */
async function send(history: HistoryStore, message: MessageFrame, connectionId: string) {
  const used = await history.slotsUsed(message.channel, connectionId, message.timestamp);
  return history.appendWithinRate(message, connectionId, used);
}

const stored = async (channel: string) =>
  (
    await doc.send(
      new QueryCommand({
        TableName: names.history,
        KeyConditionExpression: "channel = :c",
        ExpressionAttributeValues: { ":c": channel },
      }),
    )
  ).Items ?? [];

describe("history store on dynalite: the rate", () => {
  it("lets exactly 20 of 100 concurrent messages of one connection through per window, and 20 more in the next", async () => {
    const history = store();
    const burst = (at: number) =>
      Promise.all(Array.from({ length: 100 }, (_, i) => send(history, frame("burst", at + (i % 7)), "c1")));
    const first = await burst(NOW);
    expect(first.filter((outcome) => outcome === "stored")).toHaveLength(20);
    const second = await burst(NOW + 10_000);
    expect(second.filter((outcome) => outcome === "stored")).toHaveLength(20);

    const items = await stored("burst");
    expect(items).toHaveLength(40);
    expect(new Set(items.map((item) => item.id)).size).toBe(40);
    const slots = items.map((item) => String(item.sk).slice(-4));
    expect(slots.sort()).toEqual(
      Array.from({ length: 20 }, (_, slot) => String(slot).padStart(4, "0"))
        .flatMap((slot) => [slot, slot])
        .sort(),
    );
  });

  it("counts each connection on its own, even when ids share a prefix", async () => {
    const history = store();
    const outcomes = await Promise.all(
      ["ab", "abc"].flatMap((id) => Array.from({ length: 30 }, () => send(history, frame("pair", NOW), id))),
    );
    expect(outcomes.slice(0, 30).filter((outcome) => outcome === "stored")).toHaveLength(20);
    expect(outcomes.slice(30).filter((outcome) => outcome === "stored")).toHaveLength(20);
  });

  it("starts from the slot the read gives, and still never passes the maximum with a read that lags", async () => {
    const history = store();
    for (let i = 0; i < 20; i++) await history.appendWithinRate(frame("lag", NOW), "c1", 0);
    await expect(history.slotsUsed("lag", "c1", NOW)).resolves.toBe(20);
    await expect(history.appendWithinRate(frame("lag", NOW), "c1", 0)).resolves.toBe("limited");
    expect(await stored("lag")).toHaveLength(20);
  });
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
    cursor = direction === "before" ? page.messages[0] : page.messages.at(-1);
    if (!cursor) throw new Error("a page that says more must hold a message");
  }
}

/** Items DynamoDB evaluated (`ScannedCount`) for history queries from now until the returned function is called. */
function countScanned(): () => number {
  let scanned = 0;
  const send = doc.send.bind(doc);
  const spy = vi.spyOn(doc, "send").mockImplementation((async (command: unknown) => {
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
  it("holds the newest messages by time, oldest first, however keys order them within a window", async () => {
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
          for (const { sender, frame: message } of frames) {
            if ((await store().appendWithinRate(message, sender)) === "stored") kept.push(message);
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
    for (const message of [...old, ...fresh]) await store().appendWithinRate(message, message.from);
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
      writes.push(
        store()
          .appendWithinRate(message, sender)
          .then((outcome) => {
            if (outcome === "stored") all.push(message);
          }),
      );
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
    // Bounded reads: each page reads its own windows (a few messages each here) and one item more.
    for (const { scanned } of pages) expect(scanned).toBeLessThanOrEqual(60);
  });

  it("yields every message after the oldest exactly once in order going forward with after", async () => {
    const [oldest] = all;
    const pages = await allPages(reader(), channel, "after", oldest);
    expect(pages.flatMap(({ page }) => page.messages)).toEqual(all.slice(1));
    expect(pages.map(({ page }) => page.more)).toEqual([...pages.slice(1).map(() => true), false]);
    for (const { scanned } of pages) expect(scanned).toBeLessThanOrEqual(60);
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
      if ((await store().appendWithinRate(message, `sender${i % 3}`)) === "stored") sent.push(message);
    }
    expect(sent).toHaveLength(50);
    const history = store(NOW + 60_000);
    for (const direction of ["before", "after"] as const) {
      const pages = await allPages(history, channel, direction, direction === "after" ? sent[0] : undefined);
      const seen = pages.flatMap(({ page }) => page.messages);
      expect(seen.sort(byTime)).toEqual(direction === "after" ? sent.slice(1) : sent);
      for (const { page } of pages) {
        expect(page.messages.length).toBeGreaterThan(0);
        expect(encodedBytes(channel, page)).toBeLessThanOrEqual(128 * 1024);
      }
      expect(pages).toHaveLength(10); // five of these messages to a frame
    }
  });
});

describe("history store on dynalite: a crowded window", () => {
  // 200 senders × 5 messages in one 10-second window (1,000 items, keyed by sender), between two quiet windows, many
  // sharing a timestamp: the crowded window is read whole (within the request's read cap) and paged by time.
  const channel = "crowded";
  const all: MessageFrame[] = [];
  const reader = (options = {}) => new HistoryStore(doc, names.history, { now: () => NOW + 3_600_000, ...options });
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
      const outcomes = await Promise.all(batch.map(({ message, sender }) => store().appendWithinRate(message, sender)));
      expect(outcomes.every((outcome) => outcome === "stored")).toBe(true);
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
    // Each page read its windows whole and no more than the cap: the crowded one (1,000 items) plus the quiet ones.
    for (const { scanned } of [...back, ...forward]) expect(scanned).toBeLessThanOrEqual(1_030);
  });

  it("with a cap below the crowded window, ends the page before it saying more, then refuses instead of cutting it", async () => {
    const history = reader({ readMaxItems: 300 });
    const late = all.slice(-10);
    const scanned = countScanned();
    await expect(history.page(channel, {}, new HistoryPageBudget(channel))).resolves.toEqual({
      messages: late,
      more: true,
    });
    await expect(
      history.page(channel, { before: cursorOf(late[0] as MessageFrame) }, new HistoryPageBudget(channel)),
    ).rejects.toThrow(HistoryReadLimitError);
    expect(scanned()).toBeLessThanOrEqual(600);
    // From the other side the quiet window pages as before, up to the crowded one.
    await expect(
      history.page(channel, { after: cursorOf(all[0] as MessageFrame) }, new HistoryPageBudget(channel, 9)),
    ).resolves.toEqual({ messages: all.slice(1, 10), more: true });
  });
});
