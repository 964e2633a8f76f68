import { BatchWriteCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BroadcastResult } from "../../lambda/core/broadcast.ts";
import { limits } from "../../lambda/core/limits.ts";
import type { CoreLogger } from "../../lambda/core/logger.ts";
import type { LocalStack } from "../../local/local-stack.ts";
import { type ChatClient, connect, eventually, startTestStack, storedConnections } from "./harness.ts";

const dispatched: BroadcastResult[] = [];
const segments: BroadcastResult[] = [];
const logger: CoreLogger = {
  info(message, ...extra) {
    const details = Object.assign({}, ...extra) as { outcome?: { result?: BroadcastResult } } & BroadcastResult;
    if (message === "frame handled" && details.outcome?.result) dispatched.push(details.outcome.result);
    if (message === "segment delivered") segments.push(details);
  },
  warn() {},
  error() {},
};

let stack: LocalStack;
beforeAll(async () => {
  stack = await startTestStack({ logger, broadcastWorkers: 3 });
});
afterAll(() => stack.close());

const GHOSTS = limits.shardThreshold + 300;

/** Members of `channel` whose $disconnect was lost: they answer 410, and make the channel large. */
async function addGhosts(channel: string, count: number): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  for (let start = 0; start < count; start += 25) {
    const items = Array.from({ length: Math.min(25, count - start) }, (_, i) => ({
      PutRequest: {
        Item: {
          connectionId: `ghost-${channel}-${start + i}`,
          channel,
          username: "Ghost",
          connectedAt: 0,
          expiresAt: now + 600,
        },
      },
    }));
    await stack.documentClient.send(new BatchWriteCommand({ RequestItems: { [stack.tables.connections]: items } }));
  }
}

describe("sharded fan-out on the local stack", () => {
  it("hands a channel over the threshold to broadcast workers that deliver to every live member once and remove the stale", async () => {
    const clients: ChatClient[] = [];
    for (const name of ["Ann", "Ben", "Cat"]) clients.push(await connect(stack, name, "huge"));
    await addGhosts("huge", GHOSTS);
    const [ann] = clients as [ChatClient];
    const handled = dispatched.length;
    ann.send("to everyone");
    for (const client of clients) {
      expect(await client.next((frame) => frame.type === "message", 20_000)).toMatchObject({
        from: "Ann",
        message: "to everyone",
      });
    }
    await stack.segments.idle();
    await eventually(
      async () => (await storedConnections(stack)).filter((item) => item.channel === "huge").length === 3,
      20_000,
    );

    // Every member but the sender, whose copy is its answer.
    const total = GHOSTS + 2;
    // The handler logs its outcome after the workers may have delivered: wait for that line, do not sample it.
    await eventually(() => dispatched.length > handled);
    expect(dispatched.at(-1)).toMatchObject({
      delivered: 0,
      queued: total,
      segments: Math.ceil(total / limits.segmentSize),
    });
    expect(segments.reduce((sum, result) => sum + result.delivered, 0)).toBe(2);
    expect(segments.reduce((sum, result) => sum + result.gone, 0)).toBe(GHOSTS);
    expect(stack.segments.deadLetters).toEqual([]);
    for (const client of clients) {
      client.send({ action: "ping" });
      await client.ofType("pong");
      expect(client.frames.filter((frame) => frame.type === "message")).toEqual([]);
    }
    await Promise.all(clients.map((client) => client.close()));
  }, 60_000);

  it("delivers a message holding characters SQS refuses (U+FFFF, U+FFFE, a lone surrogate) to every member unchanged", async () => {
    const clients: ChatClient[] = [];
    for (const name of ["Dan", "Eve", "Fay"]) clients.push(await connect(stack, name, "huge-unicode"));
    await addGhosts("huge-unicode", GHOSTS);
    const before = segments.length;
    const handled = dispatched.length;
    const message = "noncharacters \uFFFF and \uFFFE, a lone \uD800 surrogate";
    const [dan] = clients as [ChatClient];
    // JSON escapes are the one way a lone surrogate reaches the server: a WebSocket text frame is UTF-8.
    dan.send(JSON.stringify({ action: "send", message }));
    for (const client of clients) {
      expect(await client.next((frame) => frame.type === "message", 20_000)).toMatchObject({ from: "Dan", message });
    }
    await stack.segments.idle();
    await eventually(() => dispatched.length > handled);
    expect(dispatched.at(-1)).toMatchObject({ queued: GHOSTS + 2 });
    const mine = segments.slice(before);
    expect(mine.reduce((sum, result) => sum + result.delivered, 0)).toBe(2);
    expect(mine.reduce((sum, result) => sum + result.gone, 0)).toBe(GHOSTS);
    expect(stack.segments.deadLetters).toEqual([]);
    for (const client of clients) {
      client.send({ action: "ping" });
      await client.ofType("pong");
      expect(client.frames.filter((frame) => frame.type === "message")).toEqual([]);
    }
    await Promise.all(clients.map((client) => client.close()));
  }, 60_000);
});
