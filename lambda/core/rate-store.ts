import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { limits } from "./limits.ts";
import { ratesTable } from "./tables.ts";

const { partitionKey, ttlAttribute } = ratesTable;

/** At most `max` of something per window of `windowMs`; windows are fixed and aligned to the epoch. */
export interface RateRule {
  readonly max: number;
  readonly windowMs: number;
}

/** What {@link RateStore.take} decided; a refusal says how long until the window ends. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * Whether {@link RateStore.holdConnection} made room for a connection: `held`; `full` of live connections (some of
 * which may be dead); or `kept`: every place kept for a connection closed for flooding ({@link RateStore.keepPlace}),
 * which nothing frees before they expire, or a user this instance remembers as full ({@link RateStore.stayFull}).
 */
export type ConnectionHold = "held" | "full" | "kept";

/** Options of a {@link RateStore}. */
export interface RateStoreOptions {
  /** Clock in epoch milliseconds. Default: `Date.now`. */
  readonly now?: () => number;
  /** Counters this process remembers as full, at most (see {@link RateStore.take}). Default: 10,000. */
  readonly rememberedMax?: number;
}

/** An item outlives its window by this much, so a clock a little behind never finds its counter deleted. */
const WINDOW_TTL_SLACK_SECONDS = 60;
const CONNECTIONS = "connections";
/** The key of a place kept for a closed connection ({@link RateStore.keepPlace}), beside the live connections' ids. */
const KEPT = "closed#";

/** The key of a user's item: their live connections and kept places. */
const userKey = (user: string) => ({ [partitionKey.name]: `user#${user}` });

const checkRule = ({ max, windowMs }: RateRule) => {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`a rate's max must be a positive integer: ${max}`);
  if (!Number.isInteger(windowMs) || windowMs < 1)
    throw new RangeError(`a rate's window must be positive: ${windowMs}`);
};

/**
 * Counters in fixed windows, one DynamoDB item per counter and window (`${key}#${window}`), and each user's live
 * connections. Every decision is one atomic update, so however many requests race, at most `max` are allowed per
 * window. Like any fixed window this lets up to twice the maximum through around a window's edge.
 *
 * A counter found full is remembered in this process until its window ends: counts only grow within a window, so
 * every later request for it is refused with no DynamoDB call at all. On Lambda that is one warm instance's memory;
 * the next instance pays one conditional update to learn the same.
 */
export class RateStore {
  private readonly now: () => number;
  private readonly rememberedMax: number;
  /** Counter item keys known to be full, and when their window ends; users whose every place is kept, and until when. */
  private readonly full = new Map<string, number>();
  /** Users last found full, and until when a `full` answer may be remembered (ms; see {@link stayFull}). */
  private readonly lastFull = new Map<string, number>();

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    options: RateStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.rememberedMax = options.rememberedMax ?? 10_000;
  }

  /**
   * Takes one unit of `rule` for `key` in the current window: allowed while fewer than `rule.max` were taken. One
   * conditional update (a failed condition costs one write unit, no read); no call when this process already saw the
   * window full.
   */
  async take(key: string, rule: RateRule): Promise<RateDecision> {
    checkRule(rule);
    const nowMs = this.now();
    const window = Math.floor(nowMs / rule.windowMs);
    const endsAt = (window + 1) * rule.windowMs;
    const itemKey = `${key}#${window}`;
    const refused = { allowed: false, retryAfterMs: endsAt - nowMs } as const;
    if ((this.full.get(itemKey) ?? 0) > nowMs) return refused;
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [partitionKey.name]: itemKey },
          UpdateExpression: "ADD #count :one SET #expiresAt = if_not_exists(#expiresAt, :expiresAt)",
          ConditionExpression: "attribute_not_exists(#count) OR #count < :max",
          ExpressionAttributeNames: { "#count": "count", "#expiresAt": ttlAttribute },
          ExpressionAttributeValues: {
            ":one": 1,
            ":max": rule.max,
            ":expiresAt": Math.ceil(endsAt / 1000) + WINDOW_TTL_SLACK_SECONDS,
          },
        }),
      );
      return { allowed: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      this.remember(itemKey, endsAt, nowMs);
      return refused;
    }
  }

  /** Counts one event for `key` in the current window of `windowMs` and answers the count so far, this one included. */
  async count(key: string, windowMs: number): Promise<number> {
    checkRule({ max: 1, windowMs });
    const nowMs = this.now();
    const window = Math.floor(nowMs / windowMs);
    const { Attributes } = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [partitionKey.name]: `${key}#${window}` },
        UpdateExpression: "ADD #count :one SET #expiresAt = if_not_exists(#expiresAt, :expiresAt)",
        ExpressionAttributeNames: { "#count": "count", "#expiresAt": ttlAttribute },
        ExpressionAttributeValues: {
          ":one": 1,
          ":expiresAt": Math.ceil(((window + 1) * windowMs) / 1000) + WINDOW_TTL_SLACK_SECONDS,
        },
        ReturnValues: "UPDATED_NEW",
      }),
    );
    return Number(Attributes?.count ?? 0);
  }

  /**
   * Makes room for one of `user`'s connections among at most `max` live ones; `expiresAt` (epoch seconds) is the
   * connection's TTL. The user's item maps each held connection to its TTL, and one conditional update adds to it, so
   * racing handshakes never hold more than `max`. When it is full, connections whose TTL has passed (their
   * `$disconnect` never ran: API Gateway ends every connection within 2 hours) are dropped and the update tried again.
   */
  async holdConnection(user: string, connectionId: string, expiresAt: number, max: number): Promise<ConnectionHold> {
    checkRule({ max, windowMs: 1 });
    const key = userKey(user);
    const itemKey = key[partitionKey.name] as string;
    // A user whose every place is kept stays so until the first expires: a client retrying its handshakes meanwhile
    // costs this instance no DynamoDB call.
    if ((this.full.get(itemKey) ?? 0) > this.now()) return "kept";
    // Only a `full` answer of this call may be followed by {@link stayFull}.
    this.lastFull.delete(itemKey);
    const names = { "#connections": CONNECTIONS, "#id": connectionId, "#expiresAt": ttlAttribute };
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: "SET #connections.#id = :expiresAt, #expiresAt = :itemExpiresAt",
            ConditionExpression: "size(#connections) < :max OR attribute_exists(#connections.#id)",
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ":expiresAt": expiresAt, ":itemExpiresAt": expiresAt, ":max": max },
          }),
        );
        return "held";
      } catch (error) {
        // No item yet (or no map in it): the update's path does not exist, which DynamoDB reports as a failed
        // condition (size() of a missing attribute is false) or as a validation error, depending on the store.
        if (!(error instanceof ConditionalCheckFailedException) && !isMissingPath(error)) throw error;
      }
      const held = await this.placesOf(user);
      if (held === undefined) {
        if (await this.createHold(user, connectionId, expiresAt)) return "held";
        continue;
      }
      const nowMs = this.now();
      const nowSeconds = Math.floor(nowMs / 1000);
      const stale = Object.entries(held).filter(([, until]) => Number(until) <= nowSeconds);
      if (stale.length === 0 && Object.keys(held).length >= max) {
        const kept = Object.entries(held).filter(([id]) => id.startsWith(KEPT));
        const firstKeptExpiresAt = Math.min(...kept.map(([, until]) => Number(until))) * 1000;
        if (kept.length < max) {
          if (this.lastFull.size >= this.rememberedMax) this.lastFull.clear();
          this.lastFull.set(itemKey, kept.length > 0 ? firstKeptExpiresAt : nowMs + limits.fullAliveRememberedMs);
          return "full";
        }
        this.remember(itemKey, firstKeptExpiresAt, nowMs);
        return "kept";
      }
      await this.dropHeld(user, stale);
    }
    return "full";
  }

  /**
   * Told after a `full` answer from {@link holdConnection} whose live connections were all found alive. The user is
   * then answered `kept` by this instance for a while, so the handshakes it retries meanwhile cost no call: neither the
   * update, the read, nor asking API Gateway about each of its live connections again (up to ten GetConnection calls
   * a handshake, on the account's management API quota that every broadcast uses). A user some of whose places are
   * kept (it flooded) stays refused until the first of them expires; one with none for
   * `limits.fullAliveRememberedMs` only, since any of its tabs may close: a place freed meanwhile is refused here
   * that long.
   */
  stayFull(user: string): void {
    const itemKey = userKey(user)[partitionKey.name] as string;
    const until = this.lastFull.get(itemKey);
    this.lastFull.delete(itemKey);
    if (until !== undefined) this.remember(itemKey, until, this.now());
  }

  /** Lets go of a connection held by {@link holdConnection}; one not held changes nothing. */
  async releaseConnection(user: string, connectionId: string): Promise<void> {
    await this.doc
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(user),
          UpdateExpression: "REMOVE #connections.#id",
          ConditionExpression: "attribute_exists(#connections.#id)",
          ExpressionAttributeNames: { "#connections": CONNECTIONS, "#id": connectionId },
        }),
      )
      .catch((error: unknown) => {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      });
  }

  /**
   * Keeps the place of a connection the server is closing (for ignoring `rate_limited`) taken until `until` (epoch
   * seconds), after its `$disconnect` has let the connection go: a client that reconnects at once finds one place
   * fewer, and one whose every place is so kept gets 429 until they expire, instead of starting over on a new
   * connection. Such places expire as any stale hold does, when {@link holdConnection} finds the user full.
   */
  async keepPlace(user: string, connectionId: string, until: number): Promise<void> {
    await this.doc
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(user),
          // A second close of the same connection (its first did not take) does not make the place last longer.
          UpdateExpression: "SET #connections.#kept = if_not_exists(#connections.#kept, :until)",
          ExpressionAttributeNames: { "#connections": CONNECTIONS, "#kept": `${KEPT}${connectionId}` },
          ExpressionAttributeValues: { ":until": until },
        }),
      )
      .catch((error: unknown) => {
        // No item (or no map): the connection held no place to keep.
        if (!isMissingPath(error)) throw error;
      });
  }

  /**
   * The live connections a user holds, id → TTL, or `undefined` when the user has no item; places kept for closed
   * connections ({@link keepPlace}) are not among them. Strongly consistent.
   */
  async connectionsOf(user: string): Promise<Record<string, number> | undefined> {
    const places = await this.placesOf(user);
    if (places === undefined) return undefined;
    return Object.fromEntries(Object.entries(places).filter(([key]) => !key.startsWith(KEPT)));
  }

  /** Every place a user holds: live connections by id, and kept places. Strongly consistent. */
  private async placesOf(user: string): Promise<Record<string, number> | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: userKey(user),
        ConsistentRead: true,
      }),
    );
    const held = Item?.[CONNECTIONS];
    return held && typeof held === "object" ? (held as Record<string, number>) : undefined;
  }

  private async createHold(user: string, connectionId: string, expiresAt: number): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(user),
          UpdateExpression: "SET #connections = :held, #expiresAt = :expiresAt",
          ConditionExpression: "attribute_not_exists(#connections)",
          ExpressionAttributeNames: { "#connections": CONNECTIONS, "#expiresAt": ttlAttribute },
          ExpressionAttributeValues: { ":held": { [connectionId]: expiresAt }, ":expiresAt": expiresAt },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false; // another handshake created it: try again
      throw error;
    }
  }

  /** Drops connections whose TTL has passed, each only if it still has the TTL read (it may have been held again). */
  private async dropHeld(user: string, stale: [string, number][]): Promise<void> {
    for (const [connectionId, until] of stale) {
      await this.doc
        .send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: userKey(user),
            UpdateExpression: "REMOVE #connections.#id",
            ConditionExpression: "#connections.#id = :until",
            ExpressionAttributeNames: { "#connections": CONNECTIONS, "#id": connectionId },
            ExpressionAttributeValues: { ":until": until },
          }),
        )
        .catch((error: unknown) => {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        });
    }
  }

  private remember(itemKey: string, endsAt: number, nowMs: number): void {
    if (this.full.size >= this.rememberedMax) {
      for (const [key, until] of this.full) if (until <= nowMs) this.full.delete(key);
      if (this.full.size >= this.rememberedMax) this.full.clear();
    }
    this.full.set(itemKey, endsAt);
  }
}

/** DynamoDB's answer to an update of a nested path whose parent does not exist. */
const isMissingPath = (error: unknown) =>
  error instanceof Error &&
  error.name === "ValidationException" &&
  /document path provided in the update expression is invalid/i.test(error.message);
