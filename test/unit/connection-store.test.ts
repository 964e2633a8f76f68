import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { ConnectionStore } from "../../lambda/core/connection-store.ts";
import { CONNECTIONS_TABLE, lucy, NOW, testDocumentClient } from "../fixtures.ts";

const ddb = mockClient(DynamoDBDocumentClient);
afterEach(() => ddb.reset());

const store = (sleeps: number[] = []) =>
  new ConnectionStore(testDocumentClient(), CONNECTIONS_TABLE, {
    now: () => NOW,
    pageSize: 2,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });

describe("connection store", () => {
  it("stores a connection as given", async () => {
    ddb.on(PutCommand).resolves({});
    const record = { ...lucy, connectedAt: NOW, expiresAt: NOW / 1000 + 7800 };
    await store().put(record);
    expect(ddb).toHaveReceivedCommandWith(PutCommand, { TableName: CONNECTIONS_TABLE, Item: record });
  });

  it("removes a connection and returns what was stored", async () => {
    ddb.on(DeleteCommand).resolves({ Attributes: { ...lucy } });
    await expect(store().remove(lucy.connectionId)).resolves.toEqual(lucy);
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, {
      Key: { connectionId: lucy.connectionId },
      ReturnValues: "ALL_OLD",
    });
  });

  it("queries the channel index page by page, filtering expired items, and never scans", async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ connectionId: "a", username: "A" }], LastEvaluatedKey: { connectionId: "a" } })
      .resolvesOnce({ Items: [], LastEvaluatedKey: { connectionId: "b" } })
      .resolvesOnce({ Items: [{ connectionId: "c", username: "C" }] });
    const pages = [];
    for await (const page of store().memberPages("support")) pages.push(page);
    expect(pages).toEqual([[{ connectionId: "a", username: "A" }], [{ connectionId: "c", username: "C" }]]);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 3);
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 1, {
      IndexName: "byChannel",
      Limit: 2,
      FilterExpression: "#expiresAt > :now",
      ExpressionAttributeValues: { ":channel": "support", ":now": NOW / 1000 },
    });
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 2, { ExclusiveStartKey: { connectionId: "a" } });
    expect(ddb.calls().map((call) => call.args[0].constructor.name)).not.toContain("ScanCommand");
  });

  it("deletes in batches of 25 and retries unprocessed items with backoff", async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `c${i}`);
    const unprocessed = { [CONNECTIONS_TABLE]: [{ DeleteRequest: { Key: { connectionId: "c3" } } }] };
    ddb.on(BatchWriteCommand).resolvesOnce({ UnprocessedItems: unprocessed }).resolves({ UnprocessedItems: {} });
    const sleeps: number[] = [];
    await expect(store(sleeps).removeMany(ids)).resolves.toEqual([]);
    const batches = ddb
      .commandCalls(BatchWriteCommand)
      .map((call) => call.args[0].input.RequestItems?.[CONNECTIONS_TABLE]?.length);
    expect(batches).toEqual([25, 1, 5]);
    expect(sleeps).toHaveLength(1);
  });

  it("gives back the ids still unprocessed after the bounded attempts", async () => {
    const unprocessed = { [CONNECTIONS_TABLE]: [{ DeleteRequest: { Key: { connectionId: "c1" } } }] };
    ddb.on(BatchWriteCommand).resolves({ UnprocessedItems: unprocessed });
    await expect(store().removeMany(["c1", "c2"])).resolves.toEqual(["c1"]);
    expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 6);
  });
});
