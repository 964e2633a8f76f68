import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { HistoryCursor, HistoryPosition } from "./client-frames.ts";
import type { PageBudget } from "./frame-size.ts";
import { historyKey, timeKey } from "./history-keys.ts";
import { limits } from "./limits.ts";
import type { DmFrame, MessageFrame, StoredFrame } from "./server-frames.ts";
import { historyTable } from "./tables.ts";

/** Options of a {@link HistoryStore}. */
export interface HistoryStoreOptions {
  /** How long a message is kept. Default: `limits.historyTtlSeconds` (24 h). */
  readonly ttlSeconds?: number;
  /** Clock in epoch milliseconds, for reads. Default: `Date.now`. */
  readonly now?: () => number;
}

/** A page of history, oldest first; `more`: another message lies beyond it in the direction read. */
export interface HistoryPage {
  messages: StoredFrame[];
  more: boolean;
}

/** The partition of the direct messages between two users, whichever of them asks (`#` is in no username). */
export const conversationKey = (a: string, b: string): string => `dm#${[a, b].sort().join("#")}`;

const toFrame = (item: Record<string, unknown>): StoredFrame =>
  item.type === "dm"
    ? ({
        type: "dm",
        id: String(item.id),
        from: String(item.from),
        to: String(item.to),
        message: String(item.message),
        timestamp: Number(item.timestamp),
      } satisfies DmFrame)
    : ({
        type: "message",
        id: String(item.id),
        from: String(item.from),
        message: String(item.message),
        channel: String(item.channel),
        timestamp: Number(item.timestamp),
      } satisfies MessageFrame);

/** History order (PROTOCOL §4): by timestamp, then by id. */
export const compareMessages = (a: HistoryCursor, b: HistoryCursor): number =>
  a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The chat messages of each channel, and the direct messages of each conversation ({@link conversationKey}), kept
 * `ttlSeconds`. Each message is one item whose sort key is its place in the
 * history's order (`history-keys.ts`), so every page is one key range read in the page's direction: never a scan,
 * never a sort, never more items than the page and one to tell whether there are more.
 */
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
    if (!Number.isInteger(this.ttlSeconds) || this.ttlSeconds < 1) {
      throw new RangeError(`ttlSeconds must be a positive integer`);
    }
  }

  /**
   * Stores a message in its channel, or a direct message in `partition` (its conversation): one put of one item
   * (writing it again, as a retried put may, changes nothing).
   */
  async append(frame: MessageFrame): Promise<void>;
  async append(frame: DmFrame, partition: string): Promise<void>;
  async append(frame: StoredFrame, partition = (frame as MessageFrame).channel): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...frame,
          [historyTable.partitionKey.name]: partition,
          [historyTable.sortKey.name]: historyKey(frame.timestamp, frame.id),
          [historyTable.ttlAttribute]: Math.floor(frame.timestamp / 1000) + this.ttlSeconds,
        },
      }),
    );
  }

  /**
   * One page of a channel's (or a conversation's) unexpired history, oldest first: the newest messages (no cursor), those just older than
   * `before`, or those just newer than `after`, in (timestamp, id) order, as many as `budget` admits. `more` is exact:
   * whether another message lies beyond the page in the direction read.
   *
   * Expired messages may linger (DynamoDB deletes them late, dynalite never), but their keys lie below the oldest
   * time still kept, which bounds every range: no filter, no item read to be dropped.
   */
  async page(channel: string, position: HistoryPosition, budget: PageBudget): Promise<HistoryPage> {
    const { before, after } = position;
    if (before && after) throw new RangeError("a history page is either before or after a message, not both");
    const kept = timeKey(this.now() - this.ttlSeconds * 1000 + 1);
    const forward = after !== undefined;
    // A key range holds no lower bound beside an upper one but BETWEEN, which would include the cursor: a page going
    // back reads below the cursor and stops at the first expired key instead (one item read past the page at most).
    const range = after
      ? { condition: "#sk > :key", key: maxKey(kept, historyKey(after.timestamp, after.id)) }
      : before
        ? { condition: "#sk < :key", key: historyKey(before.timestamp, before.id) }
        : { condition: "#sk >= :key", key: kept };

    const taken: StoredFrame[] = [];
    const done = (more: boolean): HistoryPage => ({ messages: forward ? taken : taken.reverse(), more });
    let startKey: Record<string, unknown> | undefined;
    do {
      const { Items = [], LastEvaluatedKey } = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: `#channel = :channel AND ${range.condition}`,
          ExpressionAttributeNames: { "#channel": historyTable.partitionKey.name, "#sk": historyTable.sortKey.name },
          ExpressionAttributeValues: { ":channel": channel, ":key": range.key },
          ScanIndexForward: forward,
          // The page at most, and one more to tell `more`.
          Limit: limits.historySize - taken.length + 1,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of Items) {
        if (String(item[historyTable.sortKey.name]) < kept) return done(false);
        const message = toFrame(item);
        if (budget.full || !budget.admit(message)) return done(true);
        taken.push(message);
      }
      startKey = LastEvaluatedKey;
    } while (startKey);
    return done(false);
  }
}

const maxKey = (a: string, b: string) => (a > b ? a : b);
