import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { HistoryStore } from "../../lambda/core/history-store.ts";
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

describe("history store: recent", () => {
  it("reads the newest keys of the unexpired windows and returns them oldest first", async () => {
    ddb
      .on(QueryCommand)
      .resolves({ Items: [item("m3", NOW + 2, "c2"), item("m2", NOW + 1, "c1", 1), item("m1", NOW)] });
    const messages = await store().recent("support", 3);
    expect(messages).toEqual([frame("m1", NOW), frame("m2", NOW + 1), frame("m3", NOW + 2)]);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      KeyConditionExpression: "#channel = :channel AND #sk BETWEEN :oldest AND :beyondNewest",
      FilterExpression: "#expiresAt > :now",
      ExpressionAttributeValues: {
        ":channel": "support",
        ":now": NOW / 1000,
        ":oldest": "000000176399640",
        ":beyondNewest": "000000176408282",
      },
      ScanIndexForward: false,
      Limit: 3,
    });
  });

  it("reads the rest of the oldest window it reached, and keeps the newest by time", async () => {
    // Window W holds c1's m1 (oldest) and m4 (newest of W), c2's m2; W+1 holds m5. By key: m5, c2's m2, c1's m4, m1.
    const m5 = item("m5", NOW + 10_000);
    const m2 = item("m2", NOW + 2, "c2");
    const m4 = item("m4", NOW + 9, "c1", 1);
    const m1 = item("m1", NOW, "c1", 0);
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [m5, m2], LastEvaluatedKey: { channel: "support", sk: m2.sk } })
      .resolvesOnce({ Items: [m4, m1] });
    const messages = await store().recent("support", 2);
    expect(messages.map((message) => message.id)).toEqual(["m4", "m5"]);
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 2, {
      KeyConditionExpression: "#channel = :channel AND begins_with(#sk, :window)",
      ExpressionAttributeValues: { ":channel": "support", ":now": NOW / 1000, ":window": `${W}#` },
      ExclusiveStartKey: { channel: "support", sk: m2.sk },
    });
  });

  it("reads on when the TTL filter left a page short", async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [item("m3", NOW + 20_000)], LastEvaluatedKey: { channel: "support", sk: "x" } })
      .resolvesOnce({ Items: [item("m2", NOW + 10_000), item("m1", NOW)] });
    const messages = await store().recent("support", 3);
    expect(messages.map((message) => message.id)).toEqual(["m1", "m2", "m3"]);
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 2, {
      ExclusiveStartKey: { channel: "support", sk: "x" },
      Limit: 3,
    });
  });

  it("stops when the next key lies in an older window than the oldest message kept", async () => {
    const m2 = item("m2", NOW + 10_000);
    const older = item("m0", NOW - 10_000);
    ddb.on(QueryCommand).resolves({ Items: [m2, item("m1", NOW)], LastEvaluatedKey: { sk: older.sk } });
    const messages = await store().recent("support", 2);
    expect(messages.map((message) => message.id)).toEqual(["m1", "m2"]);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 1);
  });

  it("answers an empty channel with no messages", async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await expect(store().recent("support")).resolves.toEqual([]);
  });

  it("refuses a count that is not a positive integer", async () => {
    await expect(store().recent("support", 0)).rejects.toThrow(/count must be a positive integer/);
  });
});
