import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { compareCodePoints } from "../../lambda/core/names.ts";
import { presenceTable } from "../../lambda/core/tables.ts";

interface Item {
  connections?: Set<string>;
  expiresAt?: number;
  count?: number;
}

/** One change of a user's set of connections, as the table applied it (atomically, in this order). */
export interface SetChange {
  readonly user: string;
  readonly connectionId: string;
  readonly op: "add" | "remove";
  readonly before: number;
  readonly after: number;
}

type Values = Record<string, unknown>;
const conditionFailed = () =>
  new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} });

/**
 * An in-memory model of the presence table for one channel's store: the very update, delete, get and query requests
 * `PresenceStore` sends, each applied atomically as DynamoDB applies one item's write, with a log of the changes of
 * each user's set. An emptied set is removed from its item, as DynamoDB does.
 */
export class FakePresenceTable {
  readonly items = new Map<string, Item>();
  readonly changes: SetChange[] = [];

  /** A document client whose `send` goes through `wrap` (e.g. a fast-check scheduler) to this table. */
  client(wrap: (send: (command: unknown) => Promise<unknown>) => (command: unknown) => Promise<unknown> = (s) => s) {
    return { send: wrap(async (command) => this.send(command)) } as unknown as DynamoDBDocumentClient;
  }

  /** The users whose set holds at least one connection. */
  present(): string[] {
    return [...this.items]
      .filter(([user, item]) => user !== presenceTable.countKey && (item.connections?.size ?? 0) > 0)
      .map(([user]) => user);
  }

  private send(command: unknown): unknown {
    if (command instanceof UpdateCommand) return this.update(command.input as never);
    if (command instanceof DeleteCommand) return this.delete(command.input as never);
    if (command instanceof GetCommand) return { Item: this.items.get(this.user(command.input.Key)) };
    if (command instanceof QueryCommand) return this.query(command.input as never);
    throw new Error(`the fake presence table does not know ${String(command)}`);
  }

  private user(key: Values | undefined): string {
    return String(key?.[presenceTable.sortKey.name]);
  }

  private update(input: { Key: Values; UpdateExpression: string; ExpressionAttributeValues: Values }) {
    const user = this.user(input.Key);
    const item = this.items.get(user) ?? {};
    const values = input.ExpressionAttributeValues;
    const old = { ...item, connections: item.connections && new Set(item.connections) };
    const setOf = (name: string) => values[name] as Set<string>;
    const change = (op: SetChange["op"], ids: Set<string>, apply: () => void) => {
      const before = item.connections?.size ?? 0;
      apply();
      if (item.connections?.size === 0) delete item.connections;
      for (const connectionId of ids)
        this.changes.push({ user, connectionId, op, before, after: item.connections?.size ?? 0 });
    };
    switch (input.UpdateExpression) {
      case "ADD #connections :connection SET #expiresAt = :expiresAt":
        change("add", setOf(":connection"), () => {
          item.connections = new Set([...(item.connections ?? []), ...setOf(":connection")]);
        });
        item.expiresAt = values[":expiresAt"] as number;
        this.items.set(user, item);
        return { Attributes: { connections: old.connections, expiresAt: old.expiresAt } };
      case "DELETE #connections :connection":
        if (!item.connections?.has(values[":id"] as string)) throw conditionFailed();
        change("remove", setOf(":connection"), () => {
          for (const id of setOf(":connection")) item.connections?.delete(id);
        });
        // A copy, as over the wire: later changes must not show through an answer already given.
        return { Attributes: { ...item, connections: item.connections && new Set(item.connections) } };
      case "DELETE #connections :stale":
        change("remove", setOf(":stale"), () => {
          for (const id of setOf(":stale")) item.connections?.delete(id);
        });
        return {};
      case "ADD #count :delta":
        item.count = (item.count ?? 0) + (values[":delta"] as number);
        this.items.set(user, item);
        return { Attributes: { count: item.count } };
      default:
        throw new Error(`the fake presence table does not know the update ${input.UpdateExpression}`);
    }
  }

  private delete(input: { Key: Values; ConditionExpression?: string }) {
    const user = this.user(input.Key);
    if (input.ConditionExpression !== "attribute_not_exists(#connections)") throw new Error("unknown delete");
    if (this.items.get(user)?.connections) throw conditionFailed();
    this.items.delete(user);
    return {};
  }

  /** The store's list query: users after the count key in code point order, `Limit` read before the filter. */
  private query(input: { Limit: number; ExclusiveStartKey?: Values; ExpressionAttributeValues: Values }) {
    const now = input.ExpressionAttributeValues[":now"] as number;
    const after = input.ExclusiveStartKey ? this.user(input.ExclusiveStartKey) : presenceTable.countKey;
    const keys = [...this.items.keys()].filter((user) => compareCodePoints(user, after) > 0).sort(compareCodePoints);
    const read = keys.slice(0, input.Limit);
    const items = read
      .filter((user) => {
        const item = this.items.get(user);
        return item?.connections !== undefined && (item.expiresAt ?? 0) > now;
      })
      .map((user) => ({ [presenceTable.sortKey.name]: user }));
    const last = read.at(-1);
    return {
      Items: items,
      ...(keys.length > read.length && last ? { LastEvaluatedKey: { [presenceTable.sortKey.name]: last } } : {}),
    };
  }
}
