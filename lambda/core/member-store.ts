import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
} from "@aws-sdk/lib-dynamodb";
import { membersTable } from "./tables.ts";

const { partitionKey, sortKey, ownerKey } = membersTable;

export { isPrivateChannel, PRIVATE_PREFIX } from "./names.ts";

/** What a user is in a private channel; `none` when they may not enter it. */
export type Role = "owner" | "member" | "none";

/** What an `invite` or a `remove` did. */
export type MembershipChange = "done" | "unchanged" | "forbidden";

/**
 * The members of private channels. A channel exists once its owner item does; the first user to enter a channel
 * without one creates it (a conditional put: one owner however many first entries race) and becomes its owner. Only
 * the owner adds and removes members; the owner cannot be removed. Every read is strongly consistent: a member just
 * removed is refused at once.
 */
export class MemberStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  /** The user's role in a channel, creating the channel with the user as its owner when it has none yet. */
  async enter(channel: string, user: string): Promise<Role> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const { role, owner } = await this.read(channel, user);
      if (role !== "none") return role;
      if (owner !== undefined) return "none";
      if (await this.create(channel, user)) return "owner";
    }
    return "none";
  }

  /** The user's role in a channel; `none` for a stranger or a channel nobody created. */
  async roleOf(channel: string, user: string): Promise<Role> {
    return (await this.read(channel, user)).role;
  }

  /** The owner adds a member. */
  async invite(channel: string, by: string, user: string): Promise<MembershipChange> {
    if ((await this.read(channel, by)).role !== "owner") return "forbidden";
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { [partitionKey.name]: channel, [sortKey.name]: user, role: "member", invitedBy: by },
          ConditionExpression: "attribute_not_exists(#user)",
          ExpressionAttributeNames: { "#user": sortKey.name },
        }),
      );
      return "done";
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return "unchanged";
      throw error;
    }
  }

  /** The owner takes a member out; the owner cannot be taken out. */
  async remove(channel: string, by: string, user: string): Promise<MembershipChange> {
    if (user === by || (await this.read(channel, by)).role !== "owner") return "forbidden";
    const { Attributes } = await this.doc.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: { [partitionKey.name]: channel, [sortKey.name]: user },
        ReturnValues: "ALL_OLD",
      }),
    );
    return Attributes ? "done" : "unchanged";
  }

  /** The user's item and the channel's owner item, in one strongly consistent read. */
  private async read(channel: string, user: string): Promise<{ role: Role; owner?: string }> {
    const keys = [user, ownerKey].map((name) => ({ [partitionKey.name]: channel, [sortKey.name]: name }));
    let items: Record<string, unknown>[] = [];
    let unprocessed: Record<string, unknown>[] | undefined = keys;
    for (let attempt = 0; unprocessed && unprocessed.length > 0; attempt++) {
      if (attempt > 5) throw new Error("members read: keys left unprocessed");
      const { Responses, UnprocessedKeys } = await this.doc.send(
        new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: unprocessed, ConsistentRead: true } } }),
      );
      items = [...items, ...(Responses?.[this.tableName] ?? [])];
      unprocessed = UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined;
    }
    const mine = items.find((item) => item[sortKey.name] === user);
    const owner = items.find((item) => item[sortKey.name] === ownerKey)?.owner as string | undefined;
    if (mine) return { role: mine.role === "owner" ? "owner" : "member", owner };
    // The owner's own item may be missing if creating the channel failed halfway: the owner item decides.
    if (owner === user) {
      await this.putOwner(channel, user);
      return { role: "owner", owner };
    }
    return { role: "none", owner };
  }

  /** Creates a channel owned by `user`; false when another user created it first. */
  private async create(channel: string, user: string): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { [partitionKey.name]: channel, [sortKey.name]: ownerKey, owner: user },
          ConditionExpression: "attribute_not_exists(#user)",
          ExpressionAttributeNames: { "#user": sortKey.name },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
    await this.putOwner(channel, user);
    return true;
  }

  private async putOwner(channel: string, user: string): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { [partitionKey.name]: channel, [sortKey.name]: user, role: "owner" },
      }),
    );
  }

  /** Whether a user is the channel's owner or a member (one strongly consistent read of the user's item). */
  async isMember(channel: string, user: string): Promise<boolean> {
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { [partitionKey.name]: channel, [sortKey.name]: user },
        ConsistentRead: true,
      }),
    );
    return Item !== undefined;
  }
}
