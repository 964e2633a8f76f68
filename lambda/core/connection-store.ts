import {
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
} from "@aws-sdk/lib-dynamodb";
import { jitteredDelay, sleep } from "./backoff.ts";
import { limits } from "./limits.ts";
import { connectionsTable } from "./tables.ts";

const { partitionKey, channelIndex, ttlAttribute } = connectionsTable;

/** One live connection as stored. `expiresAt` is epoch seconds (DynamoDB TTL). */
export interface ConnectionRecord {
  connectionId: string;
  channel: string;
  username: string;
  /** Epoch milliseconds. */
  connectedAt: number;
  /** Epoch seconds. */
  expiresAt: number;
}

/** What a broadcast and `who` need of a member: read from the channel index alone. */
export interface Member {
  connectionId: string;
  username: string;
  /** Epoch milliseconds; tells a 410 from a connection still in its `$connect` apart from a stale one. */
  connectedAt?: number;
}

/** Options of a {@link ConnectionStore}; each has a default from {@link limits}. */
export interface ConnectionStoreOptions {
  /** Items per index page. Default: `limits.membersPageSize`. */
  readonly pageSize?: number;
  /** Clock in epoch milliseconds. Default: `Date.now`. */
  readonly now?: () => number;
  /** Waits between retries of unprocessed deletes. Default: a real timer. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Connections by id, and the members of a channel through the channel index (a query, never a scan). */
export class ConnectionStore {
  private readonly pageSize: number;
  private readonly now: () => number;
  private readonly wait: (ms: number) => Promise<void>;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    options: ConnectionStoreOptions = {},
  ) {
    this.pageSize = options.pageSize ?? limits.membersPageSize;
    this.now = options.now ?? Date.now;
    this.wait = options.sleep ?? sleep;
  }

  /** Stores a new connection. */
  async put(record: ConnectionRecord): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: record }));
  }

  /** Deletes a connection and returns what was stored, if anything was. */
  async remove(connectionId: string): Promise<ConnectionRecord | undefined> {
    const result = await this.doc.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: { [partitionKey.name]: connectionId },
        ReturnValues: "ALL_OLD",
      }),
    );
    return result.Attributes as ConnectionRecord | undefined;
  }

  /**
   * The members of a channel, page by page from the channel index. Items whose TTL has passed are dropped here,
   * since DynamoDB (and the local store) may keep them for a while after expiry.
   */
  async *memberPages(channel: string): AsyncGenerator<Member[]> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: channelIndex.indexName,
          KeyConditionExpression: "#channel = :channel",
          FilterExpression: "#expiresAt > :now",
          ProjectionExpression: "#id, #username, #connectedAt",
          ExpressionAttributeNames: {
            "#channel": channelIndex.partitionKey.name,
            "#expiresAt": ttlAttribute,
            "#id": partitionKey.name,
            "#username": "username",
            "#connectedAt": "connectedAt",
          },
          ExpressionAttributeValues: { ":channel": channel, ":now": Math.floor(this.now() / 1000) },
          Limit: this.pageSize,
          ExclusiveStartKey: startKey,
        }),
      );
      const items = (page.Items ?? []) as Member[];
      if (items.length > 0) yield items;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }

  /** Every member of a channel, all pages read. */
  async members(channel: string): Promise<Member[]> {
    const all: Member[] = [];
    for await (const page of this.memberPages(channel)) all.push(...page);
    return all;
  }

  /**
   * Deletes connections in batches of 25, retrying unprocessed items with jittered backoff.
   * Returns the ids that could not be deleted within the bounded attempts.
   */
  async removeMany(connectionIds: readonly string[]): Promise<string[]> {
    const left: string[] = [];
    for (let start = 0; start < connectionIds.length; start += limits.batchWriteSize) {
      left.push(...(await this.removeBatch(connectionIds.slice(start, start + limits.batchWriteSize))));
    }
    return left;
  }

  private async removeBatch(ids: string[]): Promise<string[]> {
    let requests = ids.map((id) => ({ DeleteRequest: { Key: { [partitionKey.name]: id } } }));
    for (let attempt = 0; requests.length > 0 && attempt < limits.batchWriteAttempts; attempt++) {
      if (attempt > 0) await this.wait(jitteredDelay(attempt, limits.batchWriteBackoffMs));
      const result = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }));
      requests = (result.UnprocessedItems?.[this.tableName] ?? []) as typeof requests;
    }
    return requests.map((request) => request.DeleteRequest.Key[partitionKey.name] as string);
  }
}
