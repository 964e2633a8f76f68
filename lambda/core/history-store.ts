import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { limits } from "./limits.ts";
import type { MessageFrame } from "./server-frames.ts";
import { historyTable } from "./tables.ts";

/** Options of a {@link HistoryStore}. */
export interface HistoryStoreOptions {
  /** How long a message is kept. Default: `limits.historyTtlSeconds` (24 h). */
  readonly ttlSeconds?: number;
  /** Clock in epoch milliseconds. Default: `Date.now`. */
  readonly now?: () => number;
}

/** Sort key: the timestamp zero-padded so strings sort as numbers, then the id so equal milliseconds stay apart. */
const sortKey = (frame: MessageFrame): string => `${String(frame.timestamp).padStart(15, "0")}#${frame.id}`;

/** The chat messages of each channel, newest first on read, expiring after a TTL. */
export class HistoryStore {
  private readonly ttlSeconds: number;
  private readonly now: () => number;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    options: HistoryStoreOptions = {},
  ) {
    this.ttlSeconds = options.ttlSeconds ?? limits.historyTtlSeconds;
    this.now = options.now ?? Date.now;
  }

  /** Keeps one chat message. */
  async append(frame: MessageFrame): Promise<void> {
    const expiresAt = Math.floor(frame.timestamp / 1000) + this.ttlSeconds;
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...frame, [historyTable.sortKey.name]: sortKey(frame), expiresAt },
      }),
    );
  }

  /** The newest `count` unexpired messages of a channel, oldest first. */
  async recent(channel: string, count: number = limits.historySize): Promise<MessageFrame[]> {
    const result = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "#channel = :channel",
        FilterExpression: "#expiresAt > :now",
        ExpressionAttributeNames: {
          "#channel": historyTable.partitionKey.name,
          "#expiresAt": historyTable.ttlAttribute,
        },
        ExpressionAttributeValues: { ":channel": channel, ":now": Math.floor(this.now() / 1000) },
        ScanIndexForward: false,
        Limit: count,
      }),
    );
    return (result.Items ?? []).reverse().map((item) => ({
      type: "message",
      id: String(item.id),
      from: String(item.from),
      message: String(item.message),
      channel: String(item.channel),
      timestamp: Number(item.timestamp),
    }));
  }
}
