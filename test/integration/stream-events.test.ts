import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { StreamRecord, StreamTable } from "../../lambda/core/chat-events.ts";
import { silentLogger } from "../../lambda/core/logger.ts";
import { documentClient } from "../../lambda/runtime/aws-clients.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws.ts";
import type { LocalDynamo } from "../../local/local-dynamo.ts";
import { type StreamProxy, startStreamProxy } from "../../local/stream-events.ts";
import { eventually, startTestDynamo } from "./harness.ts";

let names = {
  connections: "s-connections",
  history: "s-history",
  presence: "s-presence",
  rates: "s-rates",
  members: "s-members",
};
let dynamo: LocalDynamo;
let proxy: StreamProxy;
let doc: ReturnType<typeof documentClient>;
const seen: { table: StreamTable; record: StreamRecord }[] = [];

beforeAll(async () => {
  const started = await startTestDynamo(names, { ttl: false });
  dynamo = started;
  names = started.names;
  proxy = await startStreamProxy(
    dynamo.endpoint,
    { history: names.history, presence: names.presence },
    (table, records) => seen.push(...records.map((record) => ({ table, record }))),
    silentLogger,
  );
  doc = documentClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, dynamoEndpoint: proxy.endpoint });
});
afterAll(async () => {
  doc.destroy();
  await proxy.close();
  await dynamo.close();
});
beforeEach(() => {
  seen.length = 0;
});

/** What the emulated stream said, as `[table, eventName, user or id]`, once `count` records came. */
async function records(count: number) {
  await eventually(() => seen.length >= count);
  return seen.map(({ table, record }) => [
    table,
    record.eventName,
    record.dynamodb?.Keys?.user?.S ?? record.dynamodb?.NewImage?.id?.S,
  ]);
}

const presenceKey = (user: string) => ({ channel: "c1", user });
const arrive = (user: string, connection: string) =>
  doc.send(
    new UpdateCommand({
      TableName: names.presence,
      Key: presenceKey(user),
      UpdateExpression: "ADD #connections :c SET #expiresAt = :e",
      ExpressionAttributeNames: { "#connections": "connections", "#expiresAt": "expiresAt" },
      ExpressionAttributeValues: { ":c": new Set([connection]), ":e": 9_999_999_999 },
      ReturnValues: "UPDATED_OLD",
    }),
  );

describe("the local stream emulation", () => {
  it("makes INSERT for an item created, MODIFY for one changed and REMOVE for one deleted, in order", async () => {
    await arrive("Ann", "a1");
    await arrive("Ann", "a2");
    await doc.send(new DeleteCommand({ TableName: names.presence, Key: presenceKey("Ann") }));
    expect(await records(3)).toEqual([
      ["presence", "INSERT", "Ann"],
      ["presence", "MODIFY", "Ann"],
      ["presence", "REMOVE", "Ann"],
    ]);
    // KEYS_ONLY, as deployed: no images.
    expect(seen.every(({ record }) => !record.dynamodb?.NewImage && !record.dynamodb?.OldImage)).toBe(true);
  });

  it("makes nothing for a write that fails its condition, a delete of nothing, or the channel's count", async () => {
    await expect(
      doc.send(
        new UpdateCommand({
          TableName: names.presence,
          Key: presenceKey("Ghost"),
          UpdateExpression: "DELETE #connections :c",
          ConditionExpression: "contains(#connections, :id)",
          ExpressionAttributeNames: { "#connections": "connections" },
          ExpressionAttributeValues: { ":c": new Set(["g1"]), ":id": "g1" },
        }),
      ),
    ).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    await doc.send(new DeleteCommand({ TableName: names.presence, Key: presenceKey("Nobody") }));
    await doc.send(new PutCommand({ TableName: names.presence, Item: { ...presenceKey("#count"), count: 1 } }));
    await arrive("Bea", "b1");
    // Records are handed on in order: once Bea's arrival is seen, nothing before it made one.
    expect(await records(1)).toEqual([["presence", "INSERT", "Bea"]]);
  });

  it("gives the history's new item in full, and answers the writer exactly what it asked for", async () => {
    const item = { channel: "c1", sk: "k1", id: "m1", from: "Ann", message: "hi", timestamp: 1, expiresAt: 9 };
    const put = await doc.send(
      new PutCommand({ TableName: names.history, Item: item, ConditionExpression: "attribute_not_exists(sk)" }),
    );
    // The proxy asked the store for the old item; the writer, who asked for nothing, gets nothing back.
    expect(put.Attributes).toBeUndefined();
    await expect(
      doc.send(
        new PutCommand({ TableName: names.history, Item: item, ConditionExpression: "attribute_not_exists(sk)" }),
      ),
    ).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    expect(await records(1)).toEqual([["history", "INSERT", "m1"]]);
    expect(seen[0]?.record.dynamodb?.NewImage).toMatchObject({ message: { S: "hi" }, timestamp: { N: "1" } });
    const removed = await doc.send(
      new DeleteCommand({ TableName: names.history, Key: { channel: "c1", sk: "k1" }, ReturnValues: "ALL_OLD" }),
    );
    expect(removed.Attributes).toMatchObject({ id: "m1" });
    expect((await records(2)).at(-1)).toEqual(["history", "REMOVE", undefined]);
  });

  it("makes one INSERT however many connections of a user arrive at once", async () => {
    await Promise.all(Array.from({ length: 8 }, (_, i) => arrive("Cal", `c${i}`)));
    const made = await records(8);
    expect(made.filter(([, name]) => name === "INSERT")).toEqual([["presence", "INSERT", "Cal"]]);
    expect(made.filter(([, name]) => name === "MODIFY")).toHaveLength(7);
  });
});
