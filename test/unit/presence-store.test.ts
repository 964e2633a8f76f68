import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PresenceStore } from "../../lambda/core/presence-store.ts";
import { NOW, PRESENCE_TABLE, testDocumentClient } from "../fixtures.ts";

const ddb = mockClient(DynamoDBDocumentClient);
const store = () => new PresenceStore(testDocumentClient(), PRESENCE_TABLE, { now: () => NOW });
const nowSeconds = NOW / 1000;
const countKey = { channel: "support", user: "#count" };
const lucyKey = { channel: "support", user: "Lucy" };
const conditionFailed = () => new ConditionalCheckFailedException({ message: "failed", $metadata: {} });
/** The updates of the channel's count, as their deltas. */
const countDeltas = () =>
  ddb
    .commandCalls(UpdateCommand)
    .filter((call) => call.args[0].input.Key?.user === "#count")
    .map((call) => call.args[0].input.ExpressionAttributeValues?.[":delta"]);

beforeEach(() => {
  ddb.on(UpdateCommand, { Key: countKey }).resolves({ Attributes: { count: 4 } });
  ddb.on(GetCommand, { Key: countKey }).resolves({ Item: { count: 4 } });
  ddb.on(DeleteCommand).resolves({});
});
afterEach(() => ddb.reset());

describe("presence store: arrivals", () => {
  it("sees a user's first connection arrive, adds it to the user's set and counts the user", async () => {
    ddb.on(UpdateCommand, { Key: lucyKey }).resolves({});
    await expect(store().arrive("support", "Lucy", "c1", nowSeconds + 7800)).resolves.toEqual({
      first: true,
      count: 4,
    });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: PRESENCE_TABLE,
      Key: lucyKey,
      UpdateExpression: "ADD #connections :connection SET #expiresAt = :expiresAt",
      ExpressionAttributeValues: { ":connection": new Set(["c1"]), ":expiresAt": nowSeconds + 7800 },
      ReturnValues: "UPDATED_OLD",
    });
    expect(countDeltas()).toEqual([1]);
  });

  it("sees a later connection of a present user arrive as no transition, and counts nothing", async () => {
    ddb
      .on(UpdateCommand, { Key: lucyKey })
      .resolves({ Attributes: { connections: new Set(["c1"]), expiresAt: nowSeconds + 60 } });
    await expect(store().arrive("support", "Lucy", "c2", nowSeconds + 7800)).resolves.toEqual({ first: false });
    expect(countDeltas()).toEqual([]);
    expect(ddb).not.toHaveReceivedCommand(GetCommand);
  });

  it("sees an arrival on an emptied item (its last connection departed, the delete not yet done) as a first one", async () => {
    ddb.on(UpdateCommand, { Key: lucyKey }).resolves({ Attributes: { expiresAt: nowSeconds + 60 } });
    await expect(store().arrive("support", "Lucy", "c2", nowSeconds + 7800)).resolves.toEqual({
      first: true,
      count: 4,
    });
    expect(countDeltas()).toEqual([1]);
  });

  it("sees an arrival on an expired item as a first one, drops the stale connections and does not count twice", async () => {
    // Connections whose $disconnect never ran and that DynamoDB's TTL has not deleted yet: the user is still counted.
    ddb
      .on(UpdateCommand, { Key: lucyKey })
      .resolvesOnce({ Attributes: { connections: new Set(["old1", "old2"]), expiresAt: nowSeconds - 1 } })
      .resolves({});
    await expect(store().arrive("support", "Lucy", "c3", nowSeconds + 7800)).resolves.toEqual({
      first: true,
      count: 4,
    });
    expect(countDeltas()).toEqual([]);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { Key: countKey });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      Key: lucyKey,
      UpdateExpression: "DELETE #connections :stale",
      ExpressionAttributeValues: { ":stale": new Set(["old1", "old2"]) },
    });
  });

  it("never drops the arriving connection itself from an expired item", async () => {
    ddb
      .on(UpdateCommand, { Key: lucyKey })
      .resolvesOnce({ Attributes: { connections: new Set(["c3"]), expiresAt: nowSeconds - 1 } })
      .resolves({});
    await expect(store().arrive("support", "Lucy", "c3", nowSeconds + 7800)).resolves.toMatchObject({ first: true });
    expect(ddb).toHaveReceivedCommandTimes(UpdateCommand, 1);
  });
});

describe("presence store: departures", () => {
  it("sees a user's last connection depart, deletes the emptied item unless one arrived, and uncounts the user", async () => {
    ddb.on(UpdateCommand, { Key: lucyKey }).resolves({ Attributes: { expiresAt: nowSeconds + 60 } });
    ddb.on(UpdateCommand, { Key: countKey }).resolves({ Attributes: { count: 3 } });
    await expect(store().depart("support", "Lucy", "c1")).resolves.toEqual({ last: true, count: 3 });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: PRESENCE_TABLE,
      Key: lucyKey,
      UpdateExpression: "DELETE #connections :connection",
      ConditionExpression: "contains(#connections, :id)",
      ExpressionAttributeValues: { ":connection": new Set(["c1"]), ":id": "c1" },
    });
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, {
      Key: lucyKey,
      ConditionExpression: "attribute_not_exists(#connections)",
    });
    expect(countDeltas()).toEqual([-1]);
  });

  it("sees a departure while the user has other connections as no transition", async () => {
    ddb
      .on(UpdateCommand, { Key: lucyKey })
      .resolves({ Attributes: { connections: new Set(["c2"]), expiresAt: nowSeconds + 60 } });
    await expect(store().depart("support", "Lucy", "c1")).resolves.toEqual({ last: false });
    expect(ddb).not.toHaveReceivedCommand(DeleteCommand);
    expect(countDeltas()).toEqual([]);
  });

  it("sees the departure of a connection not there (departed already) as no transition", async () => {
    ddb.on(UpdateCommand, { Key: lucyKey }).rejects(conditionFailed());
    await expect(store().depart("support", "Lucy", "c1")).resolves.toEqual({ last: false });
    expect(ddb).not.toHaveReceivedCommand(DeleteCommand);
    expect(countDeltas()).toEqual([]);
  });

  it("still uncounts the user when a connection arrived between the departure and the delete", async () => {
    // The arrival found no set, so it was a first one and counted the user again: the two cancel out.
    ddb.on(UpdateCommand, { Key: lucyKey }).resolves({ Attributes: { expiresAt: nowSeconds + 60 } });
    ddb.on(DeleteCommand).rejects(conditionFailed());
    await expect(store().depart("support", "Lucy", "c1")).resolves.toEqual({ last: true, count: 4 });
    expect(countDeltas()).toEqual([-1]);
  });

  it("passes other failures on", async () => {
    ddb.on(UpdateCommand, { Key: lucyKey }).rejects(new Error("throttled"));
    await expect(store().depart("support", "Lucy", "c1")).rejects.toThrow("throttled");
    ddb.on(UpdateCommand, { Key: lucyKey }).resolves({ Attributes: {} });
    ddb.on(DeleteCommand).rejects(new Error("throttled too"));
    await expect(store().depart("support", "Lucy", "c1")).rejects.toThrow("throttled too");
  });
});

describe("presence store: who is there", () => {
  const users = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => ({ user: `u${String(from + i).padStart(3, "0")}` }));

  it("lists the users after the count item, skipping expired and emptied items, reading on until enough", async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: users(0, 30), LastEvaluatedKey: { channel: "support", user: "u050" } })
      .resolvesOnce({ Items: users(30, 100), LastEvaluatedKey: { channel: "support", user: "u140" } })
      .resolves({ Items: users(100, 120) });
    ddb.on(GetCommand, { Key: countKey }).resolves({ Item: { count: 150 } });
    const list = await store().list("support", 100);
    expect(list).toEqual({ users: users(0, 100).map((item) => item.user), count: 150 });
    const queries = ddb.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(queries).toHaveLength(2);
    expect(queries[0]).toMatchObject({
      TableName: PRESENCE_TABLE,
      KeyConditionExpression: "#channel = :channel AND #user > :countKey",
      ExpressionAttributeValues: { ":channel": "support", ":countKey": "#count", ":now": nowSeconds },
      Limit: 100,
    });
    expect(queries[0]?.FilterExpression).toContain("#expiresAt > :now");
    expect(queries[0]?.FilterExpression).toContain("attribute_exists(#connections)");
    expect(queries[1]).toMatchObject({ Limit: 70, ExclusiveStartKey: { channel: "support", user: "u050" } });
  });

  it("stops at the channel's last page", async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: users(0, 5), LastEvaluatedKey: { user: "u009" } })
      .resolves({ Items: [] });
    ddb.on(GetCommand, { Key: countKey }).resolves({ Item: { count: 5 } });
    await expect(store().list("support", 100)).resolves.toEqual({
      users: ["u000", "u001", "u002", "u003", "u004"],
      count: 5,
    });
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 2);
  });

  it("never counts fewer users than it lists", async () => {
    ddb.on(QueryCommand).resolves({ Items: users(0, 7) });
    ddb.on(GetCommand, { Key: countKey }).resolves({ Item: { count: 2 } });
    await expect(store().list("support")).resolves.toMatchObject({ count: 7 });
  });

  it("counts an unknown channel as empty and never below zero", async () => {
    ddb.on(GetCommand, { Key: countKey }).resolves({});
    await expect(store().count("support")).resolves.toBe(0);
    ddb.on(GetCommand, { Key: countKey }).resolves({ Item: { count: -2 } });
    await expect(store().count("support")).resolves.toBe(0);
  });
});
