import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { ConnectionStore } from "../lambda/core/connection-store.ts";
import { limits } from "../lambda/core/limits.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../local/local-aws.ts";
import { startLocalDynamo } from "../local/local-dynamo.ts";
import { connectionIds } from "./fanout-paths.ts";
import { median } from "./stats.ts";

/** What reading one channel's members costs each way, counted from DynamoDB's own answers. */
export interface ReadCostResult {
  members: number;
  tableSize: number;
  channels: number;
  /** Items the channel-index query read (`ScannedCount` summed over its pages). */
  queryItemsRead: number;
  queryPages: number;
  /** Read capacity the query consumed, as DynamoDB (here dynalite) reports it. */
  queryCapacityUnits: number;
  queryMsMedian: number;
  /** The same for a table scan filtered on the channel (what the common samples do). */
  scanItemsRead: number;
  scanPages: number;
  scanCapacityUnits: number;
  scanMsMedian: number;
  /** Members each way found (both must equal `members`). */
  queryFound: number;
  scanFound: number;
}

interface Counted {
  itemsRead: number;
  found: number;
  pages: number;
  capacity: number;
}

/** Counts, from each Query/Scan answer, the items read and the capacity consumed (asked for on every request). */
function countingClient(endpoint: string) {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const counted: Counted = { itemsRead: 0, found: 0, pages: 0, capacity: 0 };
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { ReturnConsumedCapacity?: string };
      input.ReturnConsumedCapacity = "TOTAL";
      const result = await next(args);
      const output = result.output as {
        ScannedCount?: number;
        Count?: number;
        ConsumedCapacity?: { CapacityUnits?: number };
      };
      if (output.ScannedCount !== undefined) {
        counted.itemsRead += output.ScannedCount;
        counted.found += output.Count ?? 0;
        counted.pages++;
        counted.capacity += output.ConsumedCapacity?.CapacityUnits ?? 0;
      }
      return result;
    },
    { step: "initialize", name: "benchReadCounter" },
  );
  const reset = () => Object.assign(counted, { itemsRead: 0, found: 0, pages: 0, capacity: 0 });
  return { client, doc: DynamoDBDocumentClient.from(client), counted, reset };
}

/** Every member of a channel by scanning the whole table with a filter, page by page. */
async function scanChannel(doc: DynamoDBDocumentClient, table: string, channel: string): Promise<number> {
  let found = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: "#channel = :channel",
        ExpressionAttributeNames: { "#channel": "channel" },
        ExpressionAttributeValues: { ":channel": channel },
        ExclusiveStartKey: startKey,
      }),
    );
    found += page.Items?.length ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return found;
}

/**
 * Fills dynalite (the chat's own schema, from `local/local-dynamo.ts`) with `tableSize` connections spread evenly over
 * `channels` channels, then reads one channel with the product's query (`ConnectionStore.memberPages`) and with a
 * filtered scan, `runs` times each, interleaved.
 */
export async function measureReadCost(tableSize = 10_000, channels = 100, runs = 3): Promise<ReadCostResult> {
  const names = {
    connections: "bench-connections",
    history: "bench-history",
    presence: "bench-presence",
    rates: "bench-rates",
    members: "bench-members",
  };
  const dynamo = await startLocalDynamo(names);
  const { client, doc, counted, reset } = countingClient(dynamo.endpoint);
  try {
    const now = Date.now();
    const records = connectionIds(tableSize).map((connectionId, index) => ({
      connectionId,
      channel: `channel-${index % channels}`,
      username: `user${index}`,
      connectedAt: now,
      expiresAt: Math.floor(now / 1000) + limits.connectionTtlSeconds,
    }));
    const batches: (typeof records)[] = [];
    for (let start = 0; start < records.length; start += limits.batchWriteSize) {
      batches.push(records.slice(start, start + limits.batchWriteSize));
    }
    const writer = async () => {
      for (let batch = batches.pop(); batch; batch = batches.pop()) {
        let items: Record<string, unknown>[] = batch.map((Item) => ({ PutRequest: { Item } }));
        while (items.length > 0) {
          const answer = await doc.send(new BatchWriteCommand({ RequestItems: { [names.connections]: items } }));
          items = (answer.UnprocessedItems?.[names.connections] ?? []) as Record<string, unknown>[];
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, writer));

    const store = new ConnectionStore(doc, names.connections);
    const channel = `channel-${42 % channels}`;
    const query: Counted[] = [];
    const scan: Counted[] = [];
    const queryMs: number[] = [];
    const scanMs: number[] = [];
    for (let run = 0; run < runs; run++) {
      reset();
      let started = performance.now();
      const members = await store.members(channel);
      queryMs.push(performance.now() - started);
      query.push({ ...counted, found: members.length });
      reset();
      started = performance.now();
      const found = await scanChannel(doc, names.connections, channel);
      scanMs.push(performance.now() - started);
      scan.push({ ...counted, found });
    }
    const last = (list: Counted[]) => list[list.length - 1] as Counted;
    return {
      members: tableSize / channels,
      tableSize,
      channels,
      queryItemsRead: last(query).itemsRead,
      queryPages: last(query).pages,
      queryCapacityUnits: last(query).capacity,
      queryMsMedian: median(queryMs),
      scanItemsRead: last(scan).itemsRead,
      scanPages: last(scan).pages,
      scanCapacityUnits: last(scan).capacity,
      scanMsMedian: median(scanMs),
      queryFound: last(query).found,
      scanFound: last(scan).found,
    };
  } finally {
    client.destroy();
    await dynamo.close();
  }
}
