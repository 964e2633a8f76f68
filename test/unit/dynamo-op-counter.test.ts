import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CountedDynalite, DynamoOpCounter, startCountedDynalite } from "../../local/dynamo-op-counter.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws.ts";

describe("DynamoOpCounter (the flood benchmark's count of DynamoDB operations)", () => {
  let store: CountedDynalite;
  let client: DynamoDBClient;
  beforeAll(async () => {
    store = await startCountedDynalite();
    client = new DynamoDBClient({ endpoint: store.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    await client.send(
      new CreateTableCommand({
        TableName: "ops",
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
          { AttributeName: "id", AttributeType: "S" },
          { AttributeName: "group", AttributeType: "S" },
        ],
        KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
        GlobalSecondaryIndexes: [
          {
            IndexName: "byGroup",
            KeySchema: [{ AttributeName: "group", KeyType: "HASH" }],
            Projection: { ProjectionType: "ALL" },
          },
        ],
      }),
    );
  });
  afterAll(async () => {
    client?.destroy();
    await store?.close();
  });

  it("counts reads, index reads and writes by X-Amz-Target, failed conditions included, and the store still answers", async () => {
    const before = store.counter.snapshot();
    await client.send(new PutItemCommand({ TableName: "ops", Item: { id: { S: "a" }, group: { S: "g" } } }));
    const got = await client.send(new GetItemCommand({ TableName: "ops", Key: { id: { S: "a" } } }));
    expect(got.Item?.group?.S).toBe("g");
    await client.send(
      new BatchGetItemCommand({ RequestItems: { ops: { Keys: [{ id: { S: "a" } }, { id: { S: "b" } }] } } }),
    );
    const byIndex = await client.send(
      new QueryCommand({
        TableName: "ops",
        IndexName: "byGroup",
        KeyConditionExpression: "#g = :g",
        ExpressionAttributeNames: { "#g": "group" },
        ExpressionAttributeValues: { ":g": { S: "g" } },
      }),
    );
    expect(byIndex.Count).toBe(1);
    await client.send(
      new QueryCommand({
        TableName: "ops",
        KeyConditionExpression: "id = :id",
        ExpressionAttributeValues: { ":id": { S: "a" } },
      }),
    );
    await expect(
      client.send(
        new UpdateItemCommand({
          TableName: "ops",
          Key: { id: { S: "a" } },
          UpdateExpression: "SET n = :n",
          ConditionExpression: "attribute_not_exists(id)",
          ExpressionAttributeValues: { ":n": { N: "1" } },
        }),
      ),
    ).rejects.toBeInstanceOf(ConditionalCheckFailedException);

    const spent = DynamoOpCounter.difference(store.counter.snapshot(), before);
    expect(spent).toEqual({
      byOperation: { PutItem: 1, GetItem: 1, BatchGetItem: 1, Query: 2, UpdateItem: 1 },
      byTable: { "PutItem ops": 1, "GetItem ops": 1, "BatchGetItem ops": 1, "Query ops": 2, "UpdateItem ops": 1 },
      reads: 4,
      indexReads: 1,
      writes: 2,
      total: 6,
    });
  });
});
