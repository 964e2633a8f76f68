import { DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { HistoryPageBudget } from "../../lambda/core/frame-size.ts";
import { historyKey } from "../../lambda/core/history-keys.ts";
import { HistoryStore } from "../../lambda/core/history-store.ts";
import type { MessageFrame } from "../../lambda/core/server-frames.ts";
import { HISTORY_TABLE, NOW, testDocumentClient } from "../fixtures.ts";

const ddb = mockClient(DynamoDBDocumentClient);
afterEach(() => ddb.reset());

const frame = (id: string, timestamp: number, message = `hello ${id}`): MessageFrame => ({
  type: "message",
  id,
  from: "Lucy",
  message,
  channel: "support",
  timestamp,
});
const store = (options = {}) => new HistoryStore(testDocumentClient(), HISTORY_TABLE, { now: () => NOW, ...options });
const item = (id: string, timestamp: number, message?: string) => ({
  ...frame(id, timestamp, message),
  sk: historyKey(timestamp, id),
  expiresAt: Math.floor(timestamp / 1000) + 86_400,
});
/** A page of at most `count` messages (and 128 KiB). */
const upTo = (count: number) => new HistoryPageBudget("support", count);
const DAY = 86_400_000;
/** The oldest key still kept at NOW: everything a day old or younger. */
const KEPT = String(NOW - DAY + 1).padStart(15, "0");

describe("history store: keys", () => {
  it("orders keys as the protocol orders history: by timestamp, then by id", () => {
    expect(historyKey(NOW, "b")).toBe("001764082800000#b");
    const keys = [historyKey(NOW + 1, "a"), historyKey(NOW, "b"), historyKey(NOW, "a"), historyKey(9, "z")];
    expect(keys.sort()).toEqual([
      historyKey(9, "z"),
      historyKey(NOW, "a"),
      historyKey(NOW, "b"),
      historyKey(NOW + 1, "a"),
    ]);
  });

  it.each([-1, 1.5, Number.NaN, 2 ** 60])("refuses the timestamp %d", (timestamp) => {
    expect(() => historyKey(timestamp, "a")).toThrow(RangeError);
  });
});

describe("history store: append", () => {
  it("stores a message in one put, keyed by its time and id, with a 24-hour TTL", async () => {
    ddb.on(PutCommand).resolves({});
    await store().append(frame("m1", NOW + 5));
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(PutCommand, { TableName: HISTORY_TABLE, Item: item("m1", NOW + 5) });
  });

  it("keeps a message for the options' time", async () => {
    ddb.on(PutCommand).resolves({});
    await store({ ttlSeconds: 60 }).append(frame("m1", NOW));
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input.Item?.expiresAt).toBe(NOW / 1000 + 60);
  });

  it("passes DynamoDB's errors on", async () => {
    ddb.on(PutCommand).rejects(new Error("throttled"));
    await expect(store().append(frame("m1", NOW))).rejects.toThrow("throttled");
  });

  it.each([[{ ttlSeconds: 0 }], [{ ttlSeconds: 1.5 }]])("refuses the options %j", (options) => {
    expect(() => store(options)).toThrow(/ttlSeconds/);
  });
});

describe("history store: pages", () => {
  it("reads the newest page newest key first, down to the oldest kept key, one item past the page", async () => {
    ddb.on(QueryCommand).resolves({ Items: [item("m3", NOW - 1), item("m2", NOW - 2), item("m1", NOW - 3)] });
    const page = await store().page("support", {}, upTo(50));
    expect(page).toEqual({ messages: [frame("m1", NOW - 3), frame("m2", NOW - 2), frame("m3", NOW - 1)], more: false });
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: HISTORY_TABLE,
      KeyConditionExpression: "#channel = :channel AND #sk >= :key",
      ExpressionAttributeValues: { ":channel": "support", ":key": KEPT },
      ScanIndexForward: false,
      Limit: 51,
    });
  });

  it("says more when the item past the page exists, and leaves it out", async () => {
    const items = Array.from({ length: 4 }, (_, i) => item(`m${4 - i}`, NOW - i));
    ddb.on(QueryCommand).resolves({ Items: items.slice(0, 4), LastEvaluatedKey: { sk: items[3]?.sk } });
    const page = await store().page("support", {}, upTo(3));
    expect(page.messages.map((message) => message.id)).toEqual(["m2", "m3", "m4"]);
    expect(page.more).toBe(true);
  });

  it("reads on from where DynamoDB stopped a query (its 1 MB), asking only for what the page still lacks", async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [item("m3", NOW - 1)], LastEvaluatedKey: { channel: "support", sk: "k" } })
      .resolvesOnce({ Items: [item("m2", NOW - 2)] });
    const page = await store().page("support", {}, upTo(50));
    expect(page).toEqual({ messages: [frame("m2", NOW - 2), frame("m3", NOW - 1)], more: false });
    const second = ddb.commandCalls(QueryCommand)[1]?.args[0].input;
    expect(second).toMatchObject({ ExclusiveStartKey: { channel: "support", sk: "k" }, Limit: 50 });
  });

  it("goes back from a cursor by the keys below it, and stops at the first expired one", async () => {
    ddb.on(QueryCommand).resolves({ Items: [item("m2", NOW - DAY + 5), item("old", NOW - DAY - 5)] });
    const page = await store().page("support", { before: { timestamp: NOW - 10, id: "m9" } }, upTo(50));
    expect(page).toEqual({ messages: [frame("m2", NOW - DAY + 5)], more: false });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      KeyConditionExpression: "#channel = :channel AND #sk < :key",
      ExpressionAttributeValues: { ":channel": "support", ":key": historyKey(NOW - 10, "m9") },
      ScanIndexForward: false,
    });
  });

  it("goes forward from a cursor, oldest first, never below the oldest kept key", async () => {
    ddb.on(QueryCommand).resolves({ Items: [item("m1", NOW - 3), item("m2", NOW - 2)] });
    const page = await store().page("support", { after: { timestamp: NOW - 4, id: "m0" } }, upTo(50));
    expect(page).toEqual({ messages: [frame("m1", NOW - 3), frame("m2", NOW - 2)], more: false });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      KeyConditionExpression: "#channel = :channel AND #sk > :key",
      ExpressionAttributeValues: { ":channel": "support", ":key": historyKey(NOW - 4, "m0") },
      ScanIndexForward: true,
    });
    ddb.reset();
    ddb.on(QueryCommand).resolves({ Items: [] });
    await store().page("support", { after: { timestamp: 5, id: "ancient" } }, upTo(50));
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      ExpressionAttributeValues: { ":channel": "support", ":key": KEPT },
    });
  });

  it("ends a page at the first message the frame's bytes do not admit, saying more", async () => {
    const long = "x".repeat(4_000);
    const items = Array.from({ length: 40 }, (_, i) => item(`m${i}`, NOW - i, long));
    ddb.on(QueryCommand).resolves({ Items: items.slice(0, 40) });
    const page = await store().page("support", {}, upTo(50));
    expect(page.more).toBe(true);
    expect(page.messages.length).toBeGreaterThan(25);
    expect(page.messages.length).toBeLessThan(40);
    expect(page.messages.at(-1)?.id).toBe("m0");
  });

  it("answers an empty channel with no messages and no more", async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await expect(store().page("support", {}, upTo(50))).resolves.toEqual({ messages: [], more: false });
  });

  it("refuses both cursors at once", async () => {
    const cursor = { timestamp: NOW, id: "m1" };
    await expect(store().page("support", { before: cursor, after: cursor }, upTo(50))).rejects.toThrow(RangeError);
  });
});
