import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { limits } from "./limits.ts";
import { connectionsTable } from "./tables.ts";

/**
 * Whether one more chat message from a connection is within its rate; `unknown` when the connection is not stored,
 * so there is nothing to count against.
 */
export type RateDecision = "allowed" | "limited" | "unknown";

/** Options of a {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Messages per window. Default: `limits.rateMaxMessages` (20). */
  readonly maxMessages?: number;
  /** Window length. Default: `limits.rateWindowMs` (10 s). */
  readonly windowMs?: number;
}

/**
 * Counts chat messages per connection atomically in DynamoDB, on the connection's own item (attributes
 * `rateWindowStart`, `rateCount`), so the count goes when the connection does and never touches the channel index.
 *
 * A window opens with the first message and lasts `windowMs`; within it at most `maxMessages` are allowed. Both steps
 * are conditional writes, so concurrent frames from one connection can never get more than the limit through.
 */
export class RateLimiter {
  private readonly maxMessages: number;
  private readonly windowMs: number;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    options: RateLimiterOptions = {},
  ) {
    this.maxMessages = options.maxMessages ?? limits.rateMaxMessages;
    this.windowMs = options.windowMs ?? limits.rateWindowMs;
  }

  /** Takes one message from the connection's allowance. */
  async take(connectionId: string, nowMs: number): Promise<RateDecision> {
    // Each round either counts the message in the open window or opens a new one. A round fails only when another
    // frame changed the window between our two conditions, so a few rounds always settle.
    for (let round = 0; round < 3; round++) {
      if (await this.countInOpenWindow(connectionId, nowMs)) return "allowed";
      if (await this.openWindow(connectionId, nowMs)) return "allowed";
      // Neither condition held: the window is full, the item is gone, or another frame moved the window meanwhile.
      const state = await this.read(connectionId);
      if (!state) return "unknown";
      if (state.rateWindowStart > nowMs - this.windowMs && state.rateCount >= this.maxMessages) return "limited";
    }
    return "limited";
  }

  private key(connectionId: string) {
    return { [connectionsTable.partitionKey.name]: connectionId };
  }

  private async countInOpenWindow(connectionId: string, nowMs: number): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(connectionId),
          UpdateExpression: "ADD rateCount :one",
          ConditionExpression: "attribute_exists(#id) AND rateWindowStart > :windowFloor AND rateCount < :max",
          ExpressionAttributeNames: { "#id": connectionsTable.partitionKey.name },
          ExpressionAttributeValues: { ":one": 1, ":windowFloor": nowMs - this.windowMs, ":max": this.maxMessages },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  private async openWindow(connectionId: string, nowMs: number): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(connectionId),
          UpdateExpression: "SET rateWindowStart = :now, rateCount = :one",
          ConditionExpression:
            "attribute_exists(#id) AND (attribute_not_exists(rateWindowStart) OR rateWindowStart <= :windowFloor)",
          ExpressionAttributeNames: { "#id": connectionsTable.partitionKey.name },
          ExpressionAttributeValues: { ":now": nowMs, ":one": 1, ":windowFloor": nowMs - this.windowMs },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  private async read(connectionId: string): Promise<{ rateWindowStart: number; rateCount: number } | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: this.key(connectionId),
        ConsistentRead: true,
        ProjectionExpression: "#id, rateWindowStart, rateCount",
        ExpressionAttributeNames: { "#id": connectionsTable.partitionKey.name },
      }),
    );
    if (!Item) return undefined;
    return { rateWindowStart: Number(Item.rateWindowStart ?? 0), rateCount: Number(Item.rateCount ?? 0) };
  }
}
