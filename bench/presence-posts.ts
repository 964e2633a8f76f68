import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { join, leave } from "../lambda/core/chat.ts";
import { ConnectionStore } from "../lambda/core/connection-store.ts";
import { HistoryStore } from "../lambda/core/history-store.ts";
import { limits } from "../lambda/core/limits.ts";
import { MemberStore } from "../lambda/core/member-store.ts";
import type { Poster } from "../lambda/core/poster.ts";
import { PresenceStore } from "../lambda/core/presence-store.ts";
import { RateStore } from "../lambda/core/rate-store.ts";
import { presenceTable } from "../lambda/core/tables.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../local/local-aws.ts";
import { type LocalTableNames, startLocalDynamo } from "../local/local-dynamo.ts";
import { benchTables } from "./bench-tables.ts";
import { connectionIds } from "./fanout-paths.ts";

/** Management API posts one join and one leave cause, by channel size (users, the newcomer included). */
export interface PresencePostsResult {
  /** The largest channel, in users, with join and leave notices (the product's default, `CHAT_PRESENCE_LIMIT`). */
  limit: number;
  /** Posts the join of a new user's first connection caused, by the channel's size once joined. */
  postsPerJoin: Record<string, number>;
  /** Posts the same user's leaving caused (its last connection), by the channel's size before it left. */
  postsPerLeave: Record<string, number>;
  /** The per-member notices the chat sent before presence by user: every other member told, N − 1 posts. */
  perMemberReference: Record<string, number>;
  /** Posts a second connection (tab) of a user already present caused: no transition, so none at any size. */
  postsPerSecondTab: Record<string, number>;
}

/** A poster that delivers everything at once and counts what it was asked to post. */
function countingPoster(): Poster & { posts: number } {
  const poster = {
    posts: 0,
    async post() {
      poster.posts++;
      return { status: "delivered" as const };
    },
  };
  return poster;
}

/** Writes items in batches of `limits.batchWriteSize`, 8 batches in flight, retrying what DynamoDB leaves over. */
async function batchPut(doc: DynamoDBDocumentClient, table: string, items: Record<string, unknown>[]): Promise<void> {
  const batches: Record<string, unknown>[][] = [];
  for (let start = 0; start < items.length; start += limits.batchWriteSize) {
    batches.push(items.slice(start, start + limits.batchWriteSize));
  }
  const writer = async () => {
    for (let batch = batches.pop(); batch; batch = batches.pop()) {
      let requests: Record<string, unknown>[] = batch.map((Item) => ({ PutRequest: { Item } }));
      while (requests.length > 0) {
        const answer = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
        requests = (answer.UnprocessedItems?.[table] ?? []) as Record<string, unknown>[];
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, writer));
}

/**
 * Puts `members` users (`member0`, `member1`, …), one connection each, straight into the tables as their joins would have left them: the
 * connection items (the channel index), each user's presence item and the channel's kept count.
 */
export async function seedChannel(
  doc: DynamoDBDocumentClient,
  names: LocalTableNames,
  channel: string,
  members: number,
) {
  const now = Date.now();
  const expiresAt = Math.floor(now / 1000) + limits.connectionTtlSeconds;
  const ids = connectionIds(members);
  const users = ids.map((_, index) => `member${index}`);
  await batchPut(
    doc,
    names.connections,
    ids.map((connectionId, index) => ({ connectionId, channel, username: users[index], connectedAt: now, expiresAt })),
  );
  await batchPut(doc, names.presence, [
    ...ids.map((connectionId, index) => ({
      [presenceTable.partitionKey.name]: channel,
      [presenceTable.sortKey.name]: users[index],
      connections: new Set([connectionId]),
      [presenceTable.ttlAttribute]: expiresAt,
    })),
    {
      [presenceTable.partitionKey.name]: channel,
      [presenceTable.sortKey.name]: presenceTable.countKey,
      count: members,
    },
  ]);
}

/**
 * For each channel size N (users once the newcomer is in): seeds N − 1 members into dynalite with the chat's own
 * schema, then has a new user join through the real core (`join` in lambda/core/chat.ts with the real ConnectionStore
 * and PresenceStore), open a second tab, close it, and leave, counting the management API posts each step asks for.
 */
export async function measurePresencePosts(sizes: readonly number[]): Promise<PresencePostsResult> {
  const names = benchTables;
  const dynamo = await startLocalDynamo(names);
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const doc = DynamoDBDocumentClient.from(client);
  const poster = countingPoster();
  const deps = {
    connections: new ConnectionStore(doc, names.connections),
    history: new HistoryStore(doc, names.history),
    presence: new PresenceStore(doc, names.presence),
    rates: new RateStore(doc, names.rates),
    members: new MemberStore(doc, names.members),
    poster,
  };
  const result: PresencePostsResult = {
    limit: limits.presenceNoticeLimit,
    postsPerJoin: {},
    postsPerLeave: {},
    perMemberReference: {},
    postsPerSecondTab: {},
  };
  try {
    for (const size of sizes) {
      const channel = `presence-${size}`;
      await seedChannel(doc, names, channel, size - 1);
      const [first, second] = connectionIds(2) as [string, string];
      const newcomer = { connectionId: first, username: "newcomer", channel };
      const tab = { ...newcomer, connectionId: second };
      const count = async (step: () => Promise<unknown>) => {
        const before = poster.posts;
        await step();
        return poster.posts - before;
      };
      result.postsPerJoin[size] = await count(() => join(deps, newcomer));
      const tabPosts = await count(async () => {
        await join(deps, tab);
        await leave(deps, tab);
      });
      result.postsPerSecondTab[size] = tabPosts;
      result.postsPerLeave[size] = await count(() => leave(deps, newcomer));
      result.perMemberReference[size] = size - 1;
    }
    return result;
  } finally {
    client.destroy();
    await dynamo.close();
  }
}
