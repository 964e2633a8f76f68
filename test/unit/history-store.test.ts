import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { HistoryPageBudget } from "../../lambda/core/frame-size.ts";
import { compareMessages, HistoryReadLimitError, HistoryStore } from "../../lambda/core/history-store.ts";
import type { MessageFrame } from "../../lambda/core/server-frames.ts";
import { HISTORY_TABLE, NOW, testDocumentClient } from "../fixtures.ts";

const ddb = mockClient(DynamoDBDocumentClient);
afterEach(() => ddb.reset());

const frame = (id: string, timestamp: number): MessageFrame => ({
  type: "message",
  id,
  from: "Lucy",
  message: `hello ${id}`,
  channel: "support",
  timestamp,
});
/** NOW's 10-second window, as keys spell it. */
const W = "000000176408280";
const conditionFailed = (item?: Record<string, unknown>) =>
  new ConditionalCheckFailedException({
    message: "The conditional request failed",
    $metadata: {},
    Item: item as never,
  });
const store = (options = {}) => new HistoryStore(testDocumentClient(), HISTORY_TABLE, { now: () => NOW, ...options });
const putKeys = () => ddb.commandCalls(PutCommand).map((call) => call.args[0].input.Item?.sk);

describe("history store: the rate slots", () => {
  it("reads the highest slot the connection used in the current window, its key only", async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ sk: `${W}#c1#0007` }] });
    await expect(store().slotsUsed("support", "c1", NOW + 5)).resolves.toBe(8);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: HISTORY_TABLE,
      KeyConditionExpression: "#channel = :channel AND begins_with(#sk, :prefix)",
      ExpressionAttributeValues: { ":channel": "support", ":prefix": `${W}#c1#` },
      ProjectionExpression: "#sk",
      ScanIndexForward: false,
      Limit: 1,
    });
  });

  it("counts no slot used in a window without messages from the connection", async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await expect(store().slotsUsed("support", "c1", NOW)).resolves.toBe(0);
  });

  it("stores a message in the given slot, only if it is free, with a 24-hour TTL", async () => {
    ddb.on(PutCommand).resolves({});
    await expect(store().appendWithinRate(frame("m1", NOW), "c1", 3)).resolves.toBe("stored");
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: HISTORY_TABLE,
      Item: { ...frame("m1", NOW), sk: `${W}#c1#0003`, expiresAt: NOW / 1000 + 86_400 },
      ConditionExpression: "attribute_not_exists(#sk)",
      ExpressionAttributeNames: { "#sk": "sk" },
    });
  });

  it("after a slot found taken, reads the highest slot taken, strongly consistent, and tries past it", async () => {
    ddb.on(PutCommand).rejectsOnce(conditionFailed()).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [{ sk: `${W}#c1#0008` }] });
    await expect(store().appendWithinRate(frame("m1", NOW), "c1", 5)).resolves.toBe("stored");
    expect(putKeys()).toEqual([`${W}#c1#0005`, `${W}#c1#0009`]);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      ConsistentRead: true,
      ExpressionAttributeValues: { ":channel": "support", ":prefix": `${W}#c1#` },
      Limit: 1,
    });
  });

  it("tries the next slot when the read sees nothing past the slot found taken", async () => {
    ddb.on(PutCommand).rejectsOnce(conditionFailed()).rejectsOnce(conditionFailed()).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [] });
    await expect(store().appendWithinRate(frame("m1", NOW), "c1", 5)).resolves.toBe("stored");
    expect(putKeys()).toEqual([`${W}#c1#0005`, `${W}#c1#0006`, `${W}#c1#0007`]);
  });

  it("answers limited when every slot up to the maximum is taken", async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(QueryCommand).resolves({ Items: [{ sk: `${W}#c1#0019` }] });
    await expect(store().appendWithinRate(frame("m1", NOW), "c1", 17)).resolves.toBe("limited");
    expect(putKeys()).toEqual([`${W}#c1#0017`]);
  });

  it("answers limited without writing when the read already saw the window full", async () => {
    await expect(store().appendWithinRate(frame("m1", NOW), "c1", 20)).resolves.toBe("limited");
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it("takes a slot holding this very message (a put the SDK retried after it went through) as stored", async () => {
    ddb.on(PutCommand).rejects(conditionFailed({ id: { S: "m1" }, sk: { S: `${W}#c1#0000` } }));
    await expect(store().appendWithinRate(frame("m1", NOW), "c1", 0)).resolves.toBe("stored");
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(PutCommand, { ReturnValuesOnConditionCheckFailure: "ALL_OLD" });
  });

  it("uses the options' window and maximum", async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(QueryCommand).resolves({ Items: [] });
    const small = store({ windowMs: 1_000, maxMessages: 2 });
    await expect(small.appendWithinRate(frame("m1", NOW + 1_500), "c1")).resolves.toBe("limited");
    expect(putKeys()).toEqual(["000001764082801#c1#0000", "000001764082801#c1#0001"]);
  });

  it("passes other DynamoDB errors on", async () => {
    ddb.on(PutCommand).rejects(new Error("throttled"));
    await expect(store().appendWithinRate(frame("m1", NOW), "c1")).rejects.toThrow("throttled");
  });

  it("refuses a connection id that would break the key scheme", async () => {
    await expect(store().appendWithinRate(frame("m1", NOW), "c#1")).rejects.toThrow(/free of "#"/);
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it.each([
    [{ maxMessages: 0 }, /maxMessages/],
    [{ maxMessages: 10_001 }, /maxMessages/],
    [{ windowMs: 0.5 }, /windowMs/],
    [{ ttlSeconds: -1 }, /ttlSeconds/],
  ])("refuses the options %j", (options, error) => {
    expect(() => store(options)).toThrow(error);
  });
});

const item = (id: string, timestamp: number, connection = "c1", slot = 0) => ({
  ...frame(id, timestamp),
  sk: `${String(Math.floor(timestamp / 10_000)).padStart(15, "0")}#${connection}#${String(slot).padStart(4, "0")}`,
  expiresAt: Math.floor(timestamp / 1000) + 86_400,
});

/** A page of at most `count` messages (and 128 KiB). */
const upTo = (count: number) => new HistoryPageBudget("support", count);
const ids = (page: { messages: MessageFrame[] }) => page.messages.map((message) => message.id);
/** Window keys as the history's key conditions spell them. */
const windowKeyAt = (timestamp: number) => String(Math.floor(timestamp / 10_000)).padStart(15, "0");
const DAY = 86_400_000;

describe("history store: the newest page", () => {
  it("reads the unexpired windows newest key first, one item past the page size, and returns them oldest first", async () => {
    ddb
      .on(QueryCommand)
      .resolves({ Items: [item("m3", NOW + 2, "c2"), item("m2", NOW + 1, "c1", 1), item("m1", NOW)] });
    const page = await store().page("support", {}, upTo(50));
    expect(page).toEqual({ messages: [frame("m1", NOW), frame("m2", NOW + 1), frame("m3", NOW + 2)], more: false });
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: HISTORY_TABLE,
      KeyConditionExpression: "#channel = :channel AND #sk BETWEEN :low AND :high",
      FilterExpression: "#expiresAt > :now",
      ExpressionAttributeValues: {
        ":channel": "support",
        ":now": NOW / 1000,
        ":low": "000000176399640",
        ":high": "000000176408282",
      },
      ScanIndexForward: false,
      Limit: 51,
    });
  });

  it("reads the rest of the oldest window it reached by that window's keys alone, and keeps the newest by time", async () => {
    // Window W holds c1's m1 (oldest) and m4 (newest of W), c2's m2; W+1 holds m5. By key: m5, c2's m2, c1's m4, m1.
    const m5 = item("m5", NOW + 10_000);
    const m2 = item("m2", NOW + 2, "c2");
    const m4 = item("m4", NOW + 9, "c1", 1);
    const m1 = item("m1", NOW, "c1", 0);
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [m5, m2], LastEvaluatedKey: { channel: "support", sk: m2.sk } })
      .resolvesOnce({ Items: [m4], LastEvaluatedKey: { channel: "support", sk: m4.sk } })
      .resolvesOnce({ Items: [m1] });
    const page = await store().page("support", {}, upTo(2));
    expect(page).toEqual({ messages: [frame("m4", NOW + 9), frame("m5", NOW + 10_000)], more: true });
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 3);
    for (const [nth, startKey] of [
      [2, m2.sk],
      [3, m4.sk],
    ] as const) {
      expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, nth, {
        KeyConditionExpression: "#channel = :channel AND begins_with(#sk, :window)",
        ExpressionAttributeValues: { ":channel": "support", ":now": NOW / 1000, ":window": `${W}#` },
        ExclusiveStartKey: { channel: "support", sk: startKey },
        ScanIndexForward: false,
      });
    }
    // A window is read to its end with all the items the request's cap has left (2,000 less those read).
    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input.Limit)).toEqual([51, 1_998, 1_997]);
  });

  it.each([
    [false, W],
    [true, `${W}$`],
  ])("goes on past a window read to its end from the window's edge (forward: %s)", async (forward, edge) => {
    // A page of 3 whose first range read stops inside window W, which holds one more message.
    const a = item("a", NOW + 1, "c1");
    const b = item("b", NOW + 2, "c2");
    const [first, second] = forward ? [a, b] : [b, a];
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [first], LastEvaluatedKey: { channel: "support", sk: first.sk } })
      .resolvesOnce({ Items: [second] })
      .resolvesOnce({ Items: [item("c", forward ? NOW + 10_000 : NOW - 10_000)] });
    const position = forward ? { after: { timestamp: NOW, id: "z" } } : {};
    const page = await store().page("support", position, upTo(3));
    expect(ids(page)).toEqual(forward ? ["a", "b", "c"] : ["c", "a", "b"]);
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 3, {
      KeyConditionExpression: "#channel = :channel AND #sk BETWEEN :low AND :high",
      ExclusiveStartKey: { channel: "support", sk: edge },
      ScanIndexForward: forward,
      Limit: forward ? 104 : 102, // twice the first read
    });
  });

  it("reads on when the TTL filter left a page short", async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [item("m3", NOW + 20_000)], LastEvaluatedKey: { channel: "support", sk: "x" } })
      .resolvesOnce({ Items: [item("m2", NOW + 10_000), item("m1", NOW)] });
    const page = await store().page("support", {}, upTo(3));
    expect(page).toEqual({
      messages: [NOW, NOW + 10_000, NOW + 20_000].map((t, i) => frame(`m${i + 1}`, t)),
      more: false,
    });
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 2, { ExclusiveStartKey: { channel: "support", sk: "x" } });
  });

  it("stops at a full page whose window ended, and reads on only until it finds one older message", async () => {
    const older = item("m0", NOW - 20_000);
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [item("m2", NOW + 10_000), item("m1", NOW + 10_001, "c2")],
        LastEvaluatedKey: { channel: "support", sk: item("gone", NOW).sk },
      })
      .resolvesOnce({ Items: [], LastEvaluatedKey: { channel: "support", sk: item("gone", NOW - 10_000).sk } })
      .resolvesOnce({ Items: [older], LastEvaluatedKey: { channel: "support", sk: older.sk } });
    const page = await store().page("support", {}, upTo(2));
    expect(page).toEqual({ messages: [frame("m2", NOW + 10_000), frame("m1", NOW + 10_001)], more: true });
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 3);
  });

  it("says no more when the filter drops everything past a full page, reading a few items at a time", async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [item("m2", NOW + 10_000), item("m1", NOW)],
        LastEvaluatedKey: { channel: "support", sk: item("m1", NOW).sk },
      })
      .resolvesOnce({ Items: [] })
      .resolvesOnce({ Items: [], LastEvaluatedKey: { channel: "support", sk: item("gone", NOW - 10_000).sk } })
      .resolvesOnce({ Items: [] });
    await expect(store().page("support", {}, upTo(2))).resolves.toMatchObject({ more: false });
    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input.Limit)).toEqual([51, 1_998, 1, 2]);
  });

  it("says more when the next message does not fit the frame's bytes", async () => {
    const big = (id: string, timestamp: number) => ({ ...item(id, timestamp), message: "\u0000".repeat(4_000) });
    ddb.on(QueryCommand).resolves({ Items: Array.from({ length: 8 }, (_, i) => big(`m${8 - i}`, NOW + 8 - i)) });
    const page = await store().page("support", {}, upTo(50));
    expect(ids(page)).toEqual(["m4", "m5", "m6", "m7", "m8"]);
    expect(page.more).toBe(true);
  });

  it("answers an empty channel with no messages and no more", async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await expect(store().page("support", {}, upTo(50))).resolves.toEqual({ messages: [], more: false });
  });
});

describe("history store: pages before and after a message", () => {
  it("reads back from the cursor's window and leaves out the cursor and everything after it", async () => {
    // In the cursor's window: m4 and m6 share its timestamp, m4's id before the cursor's, m6's after.
    ddb
      .on(QueryCommand)
      .resolves({ Items: [item("m6", NOW + 5, "c3"), item("m4", NOW + 5, "c2"), item("m3", NOW + 1, "c1")] });
    const page = await store().page("support", { before: { timestamp: NOW + 5, id: "m5" } }, upTo(50));
    expect(page).toEqual({ messages: [frame("m3", NOW + 1), frame("m4", NOW + 5)], more: false });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      ExpressionAttributeValues: expect.objectContaining({ ":low": "000000176399640", ":high": "000000176408281" }),
      ScanIndexForward: false,
    });
  });

  it("reads forward from the cursor's window, oldest first, and says more when the page is full", async () => {
    ddb.on(QueryCommand).resolves({
      Items: [item("m1", NOW, "c1"), item("m3", NOW + 3, "c2"), item("m2", NOW + 2, "c3"), item("m4", NOW + 10_000)],
    });
    const page = await store({ now: () => NOW + 60_000 }).page(
      "support",
      { after: { timestamp: NOW + 1, id: "m1" } },
      upTo(2),
    );
    expect(page).toEqual({ messages: [frame("m2", NOW + 2), frame("m3", NOW + 3)], more: true });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      ExpressionAttributeValues: expect.objectContaining({
        ":low": windowKeyAt(NOW),
        ":high": windowKeyAt(NOW + 60_000 + 20_000),
      }),
      ScanIndexForward: true,
      Limit: 52,
    });
  });

  it("keeps the key range within the kept windows for cursors beyond them", async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await store().page("support", { before: { timestamp: NOW + DAY, id: "m" } }, upTo(50));
    await store().page("support", { after: { timestamp: -1e300, id: "m" } }, upTo(50));
    for (const call of ddb.commandCalls(QueryCommand)) {
      expect(call.args[0].input.ExpressionAttributeValues).toMatchObject({
        ":low": windowKeyAt(NOW - DAY),
        ":high": windowKeyAt(NOW + 20_000),
      });
    }
  });

  it.each([
    [{ before: { timestamp: NOW - DAY - 20_000, id: "m" } }],
    [{ after: { timestamp: NOW + 20_000, id: "m" } }],
    [{ after: { timestamp: 1e300, id: "m" } }],
  ])("answers %j, wholly outside the kept windows, without reading", async (position) => {
    await expect(store().page("support", position, upTo(50))).resolves.toEqual({ messages: [], more: false });
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
  });

  it("refuses both cursors at once, and a timestamp that is not finite", async () => {
    const cursor = { timestamp: NOW, id: "m" };
    await expect(store().page("support", { before: cursor, after: cursor }, upTo(50))).rejects.toThrow(/not both/);
    await expect(store().page("support", { before: { timestamp: Number.NaN, id: "m" } }, upTo(50))).rejects.toThrow(
      RangeError,
    );
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
  });
});

describe("history store: reads per request are capped", () => {
  type Item = ReturnType<typeof item>;
  const MB = 1024 * 1024;
  /** Answers the history's queries from `items` as DynamoDB does: key order, `Limit`, 1 MB read per query. */
  function table(items: Item[]) {
    const sorted = items.toSorted((a, b) => (a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0));
    let bytesRead = 0;
    ddb.on(QueryCommand).callsFake((input) => {
      const values = input.ExpressionAttributeValues;
      const inRange = (sk: string) =>
        values[":window"] !== undefined
          ? sk.startsWith(values[":window"])
          : sk >= values[":low"] && sk <= values[":high"];
      const start = input.ExclusiveStartKey?.sk as string | undefined;
      const ordered = (input.ScanIndexForward ? sorted : sorted.toReversed()).filter(
        (entry) =>
          inRange(entry.sk) && (start === undefined || (input.ScanIndexForward ? entry.sk > start : entry.sk < start)),
      );
      const page: Item[] = [];
      let bytes = 0;
      for (const entry of ordered) {
        if (page.length === (input.Limit ?? Number.POSITIVE_INFINITY) || bytes >= MB) break;
        page.push(entry);
        bytes += Buffer.byteLength(JSON.stringify(entry));
      }
      bytesRead += bytes;
      const last = page.at(-1);
      const more = last !== undefined && ordered.length > page.length;
      return {
        Items: page,
        ScannedCount: page.length,
        ...(more ? { LastEvaluatedKey: { channel: "support", sk: last.sk } } : {}),
      };
    });
    const limits = () => ddb.commandCalls(QueryCommand).map((call) => call.args[0].input.Limit ?? Number.NaN);
    return {
      /** Items returned, the sum of the queries' `Limit`s, queries and bytes read since the table was made. */
      reads: () => ({
        items: ddb
          .commandCalls(QueryCommand)
          .reduce((sum, call) => sum + (call.returnValue as unknown as { Items: [] }).Items.length, 0),
        limits: limits().reduce((sum, limit) => sum + limit, 0),
        queries: limits().length,
        bytes: bytesRead,
      }),
    };
  }
  /** `senders` connections sending 20 messages each in NOW's window, of `chars` characters each. */
  const crowd = (senders: number, chars = 10) =>
    Array.from({ length: senders * 20 }, (_, i) => ({
      ...item(`w${i}`, NOW + ((i * 7_919) % 10_000), `c${Math.floor(i / 20)}`, i % 20),
      message: "x".repeat(chars),
    }));

  it("refuses a page whose window holds 5,000 items after reading at most 2,000 of them in at most 8 queries", async () => {
    const { reads } = table(crowd(250));
    await expect(store().page("support", {}, upTo(50))).rejects.toThrow(HistoryReadLimitError);
    const read = reads();
    expect(read.limits).toBeLessThanOrEqual(2_000);
    expect(read.items).toBeLessThanOrEqual(2_000);
    expect(read.items).toBeGreaterThan(1_000); // it did try: the cap, not an accident, stopped it
    expect(read.queries).toBeLessThanOrEqual(8);
  });

  it("bounds the bytes too: 8 queries of at most 1 MB when the crowd's messages are 4,000 characters", async () => {
    const { reads } = table(crowd(250, 4_000));
    await expect(store().page("support", {}, upTo(50))).rejects.toThrow(HistoryReadLimitError);
    const read = reads();
    expect(read.queries).toBe(8);
    expect(read.bytes).toBeLessThanOrEqual(8 * (1024 * 1024 + 5_000));
  });

  it("ends a page before a crowded window, saying more, and refuses the page beyond", async () => {
    const quiet = Array.from({ length: 10 }, (_, i) => item(`q${i}`, NOW + 10_000 + i, `c${i}`));
    const { reads } = table([...crowd(250), ...quiet]);
    const page = await store().page("support", {}, upTo(50));
    expect(page).toEqual({ messages: quiet.map(({ id, timestamp }) => frame(id, timestamp)), more: true });
    expect(reads().limits).toBeLessThanOrEqual(2_000);
    const before = { timestamp: NOW + 10_000, id: "q0" };
    await expect(store().page("support", { before }, upTo(50))).rejects.toThrow(HistoryReadLimitError);
    expect(reads().limits).toBeLessThanOrEqual(4_000);
  });

  it("pages a window under the cap exactly, by time, and honours a smaller cap from the options", async () => {
    const items = crowd(60); // 1,200 items, all in one window
    const byTime = items
      .map(({ id, timestamp, message }) => ({ ...frame(id, timestamp), message }))
      .sort(compareMessages);
    table(items);
    await expect(store().page("support", {}, upTo(50))).resolves.toEqual({ messages: byTime.slice(-50), more: true });
    await expect(store({ readMaxItems: 1_000 }).page("support", {}, upTo(50))).rejects.toThrow(HistoryReadLimitError);
  });

  it.each([[{ readMaxItems: 0 }], [{ readMaxQueries: 1.5 }]])("refuses the read cap %j", (options) => {
    expect(() => store(options)).toThrow(RangeError);
  });
});
