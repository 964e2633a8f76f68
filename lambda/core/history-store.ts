import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, PutCommand, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import { MAX_SLOTS, slotKey, slotOf, slotPrefix, windowKey, windowOf, windowPartOf } from "./history-keys.ts";
import { limits } from "./limits.ts";
import type { MessageFrame } from "./server-frames.ts";
import { historyTable } from "./tables.ts";

/** Options of a {@link HistoryStore}. */
export interface HistoryStoreOptions {
  /** How long a message is kept. Default: `limits.historyTtlSeconds` (24 h). */
  readonly ttlSeconds?: number;
  /** Clock in epoch milliseconds, for reads. Default: `Date.now`. */
  readonly now?: () => number;
  /** Messages per connection per rate window. Default: `limits.rateMaxMessages` (20). */
  readonly maxMessages?: number;
  /** Length of a rate window. Default: `limits.rateWindowMs` (10 s). */
  readonly windowMs?: number;
}

/** What {@link HistoryStore.appendWithinRate} did: stored the message, or found the sender's window full. */
export type AppendOutcome = "stored" | "limited";

type Item = Record<string, unknown>;

const positiveInteger = (value: number) => Number.isInteger(value) && value > 0;

const toFrame = (item: Item): MessageFrame => ({
  type: "message",
  id: String(item.id),
  from: String(item.from),
  message: String(item.message),
  channel: String(item.channel),
  timestamp: Number(item.timestamp),
});

const byTime = (a: MessageFrame, b: MessageFrame) =>
  a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The chat messages of each channel, which are also the rate limit: each message is stored in one of its sender's
 * `maxMessages` slots of the current window (see `history-keys.ts`), claimed with a conditional put. Conditional
 * writes are strongly consistent, so however many frames of one connection race, at most `maxMessages` of them are
 * stored (and sent) per window, at the price of one write per message: there is no separate counter.
 *
 * Windows are fixed and aligned to the epoch (the 10 s from 00:00:00.000 to 00:00:09.999, and so on). Like any fixed
 * window this lets a sender put up to twice the maximum through around a window's edge.
 */
export class HistoryStore {
  private readonly ttlSeconds: number;
  private readonly now: () => number;
  private readonly maxMessages: number;
  private readonly windowMs: number;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    options: HistoryStoreOptions = {},
  ) {
    this.ttlSeconds = options.ttlSeconds ?? limits.historyTtlSeconds;
    this.now = options.now ?? Date.now;
    this.maxMessages = options.maxMessages ?? limits.rateMaxMessages;
    this.windowMs = options.windowMs ?? limits.rateWindowMs;
    if (!positiveInteger(this.ttlSeconds)) throw new RangeError(`ttlSeconds must be a positive integer`);
    if (!positiveInteger(this.windowMs)) throw new RangeError(`windowMs must be a positive integer`);
    if (!positiveInteger(this.maxMessages) || this.maxMessages > MAX_SLOTS) {
      throw new RangeError(`maxMessages must be an integer from 1 to ${MAX_SLOTS}`);
    }
  }

  /**
   * How many slots a connection has used in the window of `timestampMs`: where {@link appendWithinRate} starts. One
   * item read, its key only; eventually consistent (never more than are used) unless `consistent`.
   */
  async slotsUsed(channel: string, connectionId: string, timestampMs: number, consistent = false): Promise<number> {
    const { Items } = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        ...(consistent ? { ConsistentRead: true } : {}),
        KeyConditionExpression: "#channel = :channel AND begins_with(#sk, :prefix)",
        ExpressionAttributeNames: { "#channel": historyTable.partitionKey.name, "#sk": historyTable.sortKey.name },
        ExpressionAttributeValues: {
          ":channel": channel,
          ":prefix": slotPrefix(windowOf(timestampMs, this.windowMs), connectionId),
        },
        ProjectionExpression: "#sk",
        ScanIndexForward: false,
        Limit: 1,
      }),
    );
    const highest = Items?.[0]?.[historyTable.sortKey.name];
    return typeof highest === "string" ? slotOf(highest) + 1 : 0;
  }

  /**
   * Stores a chat message from `connectionId` in the first free slot of its window from `firstSlot` on, or answers
   * `limited` when none is left. A slot found taken (frames of one connection racing, or the read behind `firstSlot`
   * lagging) costs a write unit; a strongly consistent read of the highest slot taken then skips every slot taken
   * meanwhile, so a burst of frames costs a few failed writes per frame rather than one per slot.
   */
  async appendWithinRate(frame: MessageFrame, connectionId: string, firstSlot = 0): Promise<AppendOutcome> {
    const window = windowOf(frame.timestamp, this.windowMs);
    const expiresAt = Math.floor(frame.timestamp / 1000) + this.ttlSeconds;
    for (let slot = Math.max(0, firstSlot); slot < this.maxMessages; ) {
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...frame, [historyTable.sortKey.name]: slotKey(window, connectionId, slot), expiresAt },
            ConditionExpression: "attribute_not_exists(#sk)",
            ExpressionAttributeNames: { "#sk": historyTable.sortKey.name },
            // Free with the failure: tells a slot taken by another frame from our own put that the SDK retried
            // after it had gone through (a timeout, a 500). dynalite ignores it.
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
        return "stored";
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        if (error.Item?.id?.S === frame.id) return "stored";
        slot = Math.max(slot + 1, await this.slotsUsed(frame.channel, connectionId, frame.timestamp, true));
      }
    }
    return "limited";
  }

  /**
   * The newest `count` unexpired messages of a channel, oldest first.
   *
   * Keys order windows by time but, within a window, connections by id, so the newest `count` keys are the newest
   * messages except in the oldest window they reach into. That window is read to its end, and all is sorted by
   * (timestamp, id). The key range spans only windows that can hold unexpired messages (expired ones may linger:
   * DynamoDB deletes them late and dynalite never), plus one window ahead for a writer whose clock runs early.
   */
  async recent(channel: string, count: number = limits.historySize): Promise<MessageFrame[]> {
    if (!positiveInteger(count)) throw new RangeError(`count must be a positive integer, not ${count}`);
    const nowMs = this.now();
    const oldest = windowKey(windowOf(nowMs - this.ttlSeconds * 1000, this.windowMs));
    const beyondNewest = windowKey(windowOf(nowMs, this.windowMs) + 2);
    const items: Item[] = [];
    let startKey: Item | undefined;
    // The filter applies after Limit, so a page may hold fewer than `count`: read on until there are enough.
    do {
      const page = await this.query(channel, nowMs, {
        KeyConditionExpression: "#channel = :channel AND #sk BETWEEN :oldest AND :beyondNewest",
        ExpressionAttributeValues: { ":oldest": oldest, ":beyondNewest": beyondNewest },
        Limit: count,
        ExclusiveStartKey: startKey,
      });
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey && items.length < count);

    const last = items.at(-1)?.[historyTable.sortKey.name];
    const window = typeof last === "string" ? windowPartOf(last) : undefined;
    // The rest of the oldest window reached, if the read stopped inside it (at most `maxMessages` per member).
    while (window && startKey && windowPartOf(String(startKey[historyTable.sortKey.name])) === window) {
      const page = await this.query(channel, nowMs, {
        KeyConditionExpression: "#channel = :channel AND begins_with(#sk, :window)",
        ExpressionAttributeValues: { ":window": `${window}#` },
        ExclusiveStartKey: startKey,
      });
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    }
    return items.map(toFrame).sort(byTime).slice(-count);
  }

  /** One page, newest key first, of the channel's unexpired items matching `input`'s key condition. */
  private query(
    channel: string,
    nowMs: number,
    input: Pick<
      QueryCommandInput,
      "KeyConditionExpression" | "ExpressionAttributeValues" | "Limit" | "ExclusiveStartKey"
    >,
  ) {
    return this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        ...input,
        FilterExpression: "#expiresAt > :now",
        ExpressionAttributeNames: {
          "#channel": historyTable.partitionKey.name,
          "#sk": historyTable.sortKey.name,
          "#expiresAt": historyTable.ttlAttribute,
        },
        ExpressionAttributeValues: {
          ...input.ExpressionAttributeValues,
          ":channel": channel,
          ":now": Math.floor(nowMs / 1000),
        },
        ScanIndexForward: false,
      }),
    );
  }
}
