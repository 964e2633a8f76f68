import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { limits } from "./limits.ts";
import { presenceTable } from "./tables.ts";

const { partitionKey, sortKey, countKey, ttlAttribute } = presenceTable;

/** A user's first connection arrived in a channel (`first`), or a later one; `count` is the users present after it. */
export type Arrival = { first: true; count: number } | { first: false };

/** A user's last connection left a channel (`last`), or another did; `count` is the users present after it. */
export type Departure = { last: true; count: number } | { last: false };

/** The users of a channel as `who` answers: the first ones by code point, and how many there are in all. */
export interface PresenceList {
  users: string[];
  count: number;
}

/** Options of a {@link PresenceStore}. */
export interface PresenceStoreOptions {
  /** Clock in epoch milliseconds, for TTLs and reads. Default: `Date.now`. */
  readonly now?: () => number;
}

/**
 * Who is present in each channel, by user: a user is present while at least one of their connections is in the
 * channel. Each user's item holds the set of their connection ids there, changed with one atomic update per arrival
 * and departure, so exactly one caller sees the first arrival and exactly one the last departure, however many
 * connections of one user come and go at once. The channel's count of present users changes only on those
 * transitions, so `who` answers a count for any size without reading the channel's members.
 *
 * A connection whose `$disconnect` never ran stays in its user's set until a broadcast finds it gone (410) and it
 * departs then; the user's item expires with the connection's TTL at the latest, and reads skip expired items. Such
 * a user stays in the count until then, or until they arrive again (an expired item's arrival is not counted twice);
 * a user whose item DynamoDB's TTL deletes first stays in it for good, so the count can only run high, never low.
 * Where that matters, the users' items are read and the count set right: `who` in a channel of at most 100 users,
 * and a notice that the count says is just past the limit ({@link countUpTo}).
 */
export class PresenceStore {
  private readonly now: () => number;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    options: PresenceStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Adds a connection to its user's presence in a channel; `expiresAt` (epoch seconds) is the connection's TTL. */
  async arrive(channel: string, user: string, connectionId: string, expiresAt: number): Promise<Arrival> {
    const { Attributes } = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [partitionKey.name]: channel, [sortKey.name]: user },
        UpdateExpression: "ADD #connections :connection SET #expiresAt = :expiresAt",
        ExpressionAttributeNames: { "#connections": "connections", "#expiresAt": ttlAttribute },
        ExpressionAttributeValues: { ":connection": new Set([connectionId]), ":expiresAt": expiresAt },
        ReturnValues: "UPDATED_OLD",
      }),
    );
    const before = Attributes?.connections as Set<string> | undefined;
    const expired = Number(Attributes?.[ttlAttribute] ?? 0) <= Math.floor(this.now() / 1000);
    // An item whose TTL has passed describes connections long gone whose $disconnect never ran and that DynamoDB has
    // not deleted yet: arriving there is a first arrival, and the stale ids are dropped at once.
    if (before === undefined || before.size === 0) return { first: true, count: await this.addToCount(channel, 1) };
    if (!expired) return { first: false };
    // The user is still counted (those connections never departed): announced again, not counted twice.
    await this.dropStale(channel, user, before, connectionId);
    return { first: true, count: await this.count(channel) };
  }

  /** Removes a connection from its user's presence in a channel; a connection not there changes nothing. */
  async depart(channel: string, user: string, connectionId: string): Promise<Departure> {
    let after: Record<string, unknown> | undefined;
    try {
      ({ Attributes: after } = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [partitionKey.name]: channel, [sortKey.name]: user },
          UpdateExpression: "DELETE #connections :connection",
          ConditionExpression: "contains(#connections, :id)",
          ExpressionAttributeNames: { "#connections": "connections" },
          ExpressionAttributeValues: { ":connection": new Set([connectionId]), ":id": connectionId },
          ReturnValues: "ALL_NEW",
        }),
      ));
    } catch (error) {
      // Not there: it departed already ($disconnect after a 410, or the other way round).
      if (error instanceof ConditionalCheckFailedException) return { last: false };
      throw error;
    }
    const left = after?.connections as Set<string> | undefined;
    if (left !== undefined && left.size > 0) return { last: false };
    // DynamoDB removes an emptied set; the item goes unless a connection of the user arrived meanwhile.
    await this.doc
      .send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { [partitionKey.name]: channel, [sortKey.name]: user },
          ConditionExpression: "attribute_not_exists(#connections)",
          ExpressionAttributeNames: { "#connections": "connections" },
        }),
      )
      .catch((error: unknown) => {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      });
    return { last: true, count: await this.addToCount(channel, -1) };
  }

  /**
   * The users present in a channel, sorted by code point, at most `max` of them, and the count of all. When the
   * channel has no more than `max`, the count is the users listed (the read is strongly consistent), not the kept one,
   * which runs high after a missed `$disconnect` (see the class).
   */
  async list(channel: string, max: number = limits.presenceListMax): Promise<PresenceList> {
    const [kept, { users, complete }] = await Promise.all([this.storedCount(channel), this.users(channel, max)]);
    if (!complete) return { users, count: Math.max(kept ?? 0, users.length) };
    await this.correctCount(channel, kept, users.length);
    return { users, count: users.length };
  }

  /**
   * The number of users present in a channel, read from their items, or undefined when there are more than `max`:
   * for deciding on notices when the kept count, `kept`, says the channel is too large for them (it may run high).
   * A count found wrong is set right.
   */
  async countUpTo(channel: string, max: number, kept: number): Promise<number | undefined> {
    const { users, complete } = await this.users(channel, max + 1);
    if (!complete) return undefined;
    await this.correctCount(channel, kept, users.length);
    return users.length;
  }

  /**
   * Sets a channel's kept count to the users just read from their items, unless it changed since it was read as
   * `kept` (an arrival or a departure counted meanwhile wins). One racing transition whose item was read but whose
   * count was not yet changed leaves it one off, until the next correction.
   */
  private async correctCount(channel: string, kept: number | undefined, listed: number): Promise<void> {
    if (kept === listed) return;
    await this.doc
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [partitionKey.name]: channel, [sortKey.name]: countKey },
          UpdateExpression: "SET #count = :listed",
          ConditionExpression: kept === undefined ? "attribute_not_exists(#count)" : "#count = :kept",
          ExpressionAttributeNames: { "#count": "count" },
          ExpressionAttributeValues: { ":listed": listed, ...(kept === undefined ? {} : { ":kept": kept }) },
        }),
      )
      .catch((error: unknown) => {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      });
  }

  /** At most `max` users present, by code point, and whether they are all (the read reached the channel's end). */
  private async users(channel: string, max: number): Promise<{ users: string[]; complete: boolean }> {
    const nowSeconds = Math.floor(this.now() / 1000);
    const users: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    // Keys sort by UTF-8 bytes, which is code point order; the filter runs after Limit, so read on until enough.
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "#channel = :channel AND #user > :countKey",
          // An emptied item (its last connection departed, the delete not done yet or lost) is nobody.
          FilterExpression: "#expiresAt > :now AND attribute_exists(#connections)",
          ProjectionExpression: "#user",
          ExpressionAttributeNames: {
            "#channel": partitionKey.name,
            "#user": sortKey.name,
            "#expiresAt": ttlAttribute,
            "#connections": "connections",
          },
          ExpressionAttributeValues: { ":channel": channel, ":countKey": countKey, ":now": nowSeconds },
          Limit: max - users.length,
          ExclusiveStartKey: startKey,
          // Strongly consistent (the base table, not an index): a user just announced as gone is not listed, nor one
          // just announced as come missed.
          ConsistentRead: true,
        }),
      );
      for (const item of page.Items ?? []) users.push(String(item[sortKey.name]));
      startKey = page.LastEvaluatedKey;
    } while (startKey && users.length < max);
    // Stopped with `max` listed and a next key: there may be more. DynamoDB may also hand back a key on the last
    // page; then there are none, but telling would cost one more read, and `max` listed is not complete either way.
    return { users, complete: startKey === undefined && users.length < max };
  }

  /** The connections a user has in a channel (strongly consistent). */
  async connectionsOf(channel: string, user: string): Promise<string[]> {
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { [partitionKey.name]: channel, [sortKey.name]: user },
        ConsistentRead: true,
      }),
    );
    return [...((Item?.connections as Set<string> | undefined) ?? [])];
  }

  /** How many users are present in a channel, as kept on arrivals and departures. */
  async count(channel: string): Promise<number> {
    return Math.max(0, (await this.storedCount(channel)) ?? 0);
  }

  /** The count item's value as stored (undefined when there is none). */
  private async storedCount(channel: string): Promise<number | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { [partitionKey.name]: channel, [sortKey.name]: countKey },
        ProjectionExpression: "#count",
        ExpressionAttributeNames: { "#count": "count" },
      }),
    );
    return Item?.count === undefined ? undefined : Number(Item.count);
  }

  private async addToCount(channel: string, delta: 1 | -1): Promise<number> {
    const { Attributes } = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [partitionKey.name]: channel, [sortKey.name]: countKey },
        UpdateExpression: "ADD #count :delta",
        ExpressionAttributeNames: { "#count": "count" },
        ExpressionAttributeValues: { ":delta": delta },
        ReturnValues: "UPDATED_NEW",
      }),
    );
    return Math.max(0, Number(Attributes?.count ?? 0));
  }

  private async dropStale(channel: string, user: string, stale: Set<string>, keep: string): Promise<void> {
    const drop = new Set([...stale].filter((id) => id !== keep));
    if (drop.size === 0) return;
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [partitionKey.name]: channel, [sortKey.name]: user },
        UpdateExpression: "DELETE #connections :stale",
        ExpressionAttributeNames: { "#connections": "connections" },
        ExpressionAttributeValues: { ":stale": drop },
      }),
    );
  }
}
