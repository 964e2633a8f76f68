import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, PutCommand, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import type { HistoryCursor, HistoryPosition } from "./client-frames.ts";
import type { PageBudget } from "./frame-size.ts";
import { MAX_SLOTS, slotKey, slotOf, slotPrefix, windowKey, windowOf } from "./history-keys.ts";
import { type HistoryItem, HistoryReadLimitError, type ItemPage, WindowReader } from "./history-windows.ts";
import { limits } from "./limits.ts";
import type { MessageFrame } from "./server-frames.ts";
import { historyTable } from "./tables.ts";

export { HistoryReadLimitError } from "./history-windows.ts";

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
  /** Items one `page` may read. Default: `limits.historyRequestMaxItems` (2,000). */
  readonly readMaxItems?: number;
  /** Queries one `page` may make. Default: `limits.historyRequestMaxQueries` (8). */
  readonly readMaxQueries?: number;
}

/** What {@link HistoryStore.appendWithinRate} did: stored the message, or found the sender's window full. */
export type AppendOutcome = "stored" | "limited";

/** A page of history, oldest first; `more`: another message lies beyond it in the direction read. */
export interface HistoryPage {
  messages: MessageFrame[];
  more: boolean;
}

const positiveInteger = (value: number) => Number.isInteger(value) && value > 0;

const toFrame = (item: HistoryItem): MessageFrame => ({
  type: "message",
  id: String(item.id),
  from: String(item.from),
  message: String(item.message),
  channel: String(item.channel),
  timestamp: Number(item.timestamp),
});

/** History order (PROTOCOL §4): by timestamp, then by id. */
export const compareMessages = (a: HistoryCursor, b: HistoryCursor): number =>
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
  private readonly readCap: { maxItems: number; maxQueries: number };

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    options: HistoryStoreOptions = {},
  ) {
    this.ttlSeconds = options.ttlSeconds ?? limits.historyTtlSeconds;
    this.now = options.now ?? Date.now;
    this.maxMessages = options.maxMessages ?? limits.rateMaxMessages;
    this.windowMs = options.windowMs ?? limits.rateWindowMs;
    this.readCap = {
      maxItems: options.readMaxItems ?? limits.historyRequestMaxItems,
      maxQueries: options.readMaxQueries ?? limits.historyRequestMaxQueries,
    };
    if (!positiveInteger(this.readCap.maxItems)) throw new RangeError(`readMaxItems must be a positive integer`);
    if (!positiveInteger(this.readCap.maxQueries)) throw new RangeError(`readMaxQueries must be a positive integer`);
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
   * One page of a channel's unexpired history, oldest first: the newest messages (no cursor), those just older than
   * `before`, or those just newer than `after`, in (timestamp, id) order, as many as `budget` admits. `more` is exact:
   * whether another message lies beyond the page in the direction read.
   *
   * One key range, read in the direction of the page (`ScanIndexForward`), bounded by the cursor's window and by the
   * windows that can hold unexpired messages (expired ones may linger: DynamoDB deletes them late and dynalite never),
   * plus one window ahead for a writer whose clock runs early. Since keys order senders within a window, each window
   * the page reaches is read whole (`history-windows.ts`) and sorted by time; past the page's windows only what tells
   * `more` is read (one item, or none when a window's leftovers already do). Never a scan, never the whole day.
   *
   * Reads are capped per request (`readMaxItems`, `readMaxQueries`). A window that would take the page past the cap
   * cannot be put in time order, so the page ends before it when it already holds messages and an item read from that
   * window lies beyond them (then `more` is still exact); otherwise the page is refused with
   * {@link HistoryReadLimitError}. Nothing is ever skipped or repeated: a flooded window is refused, never cut.
   */
  async page(channel: string, position: HistoryPosition, budget: PageBudget): Promise<HistoryPage> {
    const { before, after } = position;
    if (before && after) throw new RangeError("a history page is either before or after a message, not both");
    const cursor = before ?? after;
    if (cursor && !Number.isFinite(cursor.timestamp)) throw new RangeError(`no timestamp ${cursor.timestamp}`);
    const nowMs = this.now();
    let oldest = Math.max(0, windowOf(nowMs - this.ttlSeconds * 1000, this.windowMs));
    let newest = windowOf(nowMs, this.windowMs) + 1;
    if (after) oldest = Math.max(oldest, windowOf(after.timestamp, this.windowMs));
    if (before) newest = Math.min(newest, windowOf(before.timestamp, this.windowMs));
    if (oldest > newest) return { messages: [], more: false }; // BETWEEN refuses a range whose ends are swapped

    const forward = after !== undefined;
    const reader = new WindowReader(
      ({ limit, window, startKey }) =>
        this.query(channel, nowMs, {
          ...(window === undefined
            ? {
                KeyConditionExpression: "#channel = :channel AND #sk BETWEEN :low AND :high",
                // Window keys are shorter than, and so sort before, every key of their window.
                ExpressionAttributeValues: { ":low": windowKey(oldest), ":high": windowKey(newest + 1) },
              }
            : {
                KeyConditionExpression: "#channel = :channel AND begins_with(#sk, :window)",
                ExpressionAttributeValues: { ":window": `${window}#` },
              }),
          Limit: limit,
          ScanIndexForward: forward,
          ExclusiveStartKey: startKey,
        }),
      channel,
      forward,
      // A page, one more to tell `more` and where the page's last window ends, and the cursor's own item read again.
      limits.historySize + (cursor ? 2 : 1),
      this.readCap,
    );
    const beyond = (message: MessageFrame) =>
      !cursor || (forward ? compareMessages(message, cursor) > 0 : compareMessages(message, cursor) < 0);
    const order = forward ? compareMessages : (a: MessageFrame, b: MessageFrame) => compareMessages(b, a);
    const taken: MessageFrame[] = [];
    const done = (more: boolean): HistoryPage => ({ messages: forward ? taken : taken.reverse(), more });
    try {
      for (let items = await reader.next(); items; items = await reader.next()) {
        const candidates = items.map(toFrame).filter(beyond).sort(order);
        for (const message of candidates) {
          if (budget.full || !budget.admit(message)) return done(true);
          taken.push(message);
        }
        if (budget.full) return done(await reader.any());
      }
      return done(false);
    } catch (error) {
      // Cut before the window the cap stopped in: exact when the page holds messages and one beyond them was read.
      const beyondPage = () => reader.buffered.some((item) => beyond(toFrame(item)));
      if (error instanceof HistoryReadLimitError && taken.length > 0 && beyondPage()) return done(true);
      throw error;
    }
  }

  /** One query page of the channel's unexpired items matching `input`'s key condition. */
  private query(
    channel: string,
    nowMs: number,
    input: Pick<
      QueryCommandInput,
      "KeyConditionExpression" | "ExpressionAttributeValues" | "Limit" | "ExclusiveStartKey" | "ScanIndexForward"
    >,
  ): Promise<ItemPage> {
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
      }),
    );
  }
}
