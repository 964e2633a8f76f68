import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BroadcastResult } from "../../lambda/core/broadcast.ts";
import type { CoreLogger } from "../../lambda/core/logger.ts";
import type { MessageFrame } from "../../lambda/core/server-frames.ts";
import type { LocalStack } from "../../local/local-stack.ts";
import { type ChatClient, connect, eventually, startTestStack, storedConnections } from "./harness.ts";

/** A small seeded generator, so the injected faults are the same on every run. */
function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const outcomes: { delivered: number; failed: number; gone: number }[] = [];
const errors: string[] = [];
/** Keeps what the handlers log about each broadcast and every error. */
const logger: CoreLogger = {
  info(message, ...extra) {
    const details = Object.assign({}, ...extra) as {
      outcome?: { result?: BroadcastResult };
    } & Partial<BroadcastResult>;
    if (message === "frame handled" && details.outcome?.result) outcomes.push(details.outcome.result);
  },
  warn() {},
  error(message, ...extra) {
    errors.push(`${message} ${JSON.stringify(Object.assign({}, ...extra))}`);
  },
};

let stack: LocalStack;
beforeAll(async () => {
  stack = await startTestStack({ logger });
});
afterAll(() => stack.close());

const CLIENTS = 8;
const MESSAGES_EACH = 5;

describe("under injected faults", () => {
  it("delivers every message exactly once to every live member with 20% DynamoDB throttling and 10% 429s, and removes the stale one", async () => {
    const clients: ChatClient[] = [];
    for (let i = 0; i < CLIENTS; i++) clients.push(await connect(stack, `Member${i}`, "faults"));
    // One open connection for which API Gateway answers 410 (its record made old enough not to be "still connecting").
    const [stale] = (await storedConnections(stack)).filter((item) => item.username === "Member7");
    const staleId = String(stale?.connectionId);
    await stack.documentClient.send(
      new UpdateCommand({
        TableName: stack.tables.connections,
        Key: { connectionId: staleId },
        UpdateExpression: "SET connectedAt = :old",
        ExpressionAttributeValues: { ":old": 0 },
      }),
    );
    stack.faults.options = {
      dynamoThrottleRate: 0.2,
      postThrottleRate: 0.1,
      goneConnections: new Set([staleId]),
      random: mulberry32(42),
    };

    const live = clients.slice(0, CLIENTS - 1);
    const sent = new Set<string>();
    await Promise.all(
      live.map(async (client, i) => {
        for (let n = 0; n < MESSAGES_EACH; n++) {
          const text = `m${i}-${n}`;
          sent.add(text);
          client.send(text);
          await client.next((frame) => frame.type === "message" && frame.message === text, 30_000, text);
        }
      }),
    );
    // Every live member has every message, once.
    for (const client of live) {
      await eventually(
        () => client.frames.filter((frame) => frame.type === "message").length >= sent.size - MESSAGES_EACH,
        30_000,
      );
    }
    stack.faults.options = {};
    for (const [i, client] of live.entries()) {
      const received = client.frames
        .filter((frame): frame is MessageFrame => frame.type === "message")
        .map((frame) => frame.message);
      const own = [...sent].filter((text) => text.startsWith(`m${i}-`));
      // `next` took the client's own echoes out of `frames`; the rest must be every other message exactly once.
      expect(received.sort()).toEqual([...sent].filter((text) => !own.includes(text)).sort());
    }
    await eventually(async () => !(await storedConnections(stack)).some((item) => item.connectionId === staleId));

    expect(stack.faults.counts.dynamoThrottled).toBeGreaterThan(0);
    expect(stack.faults.counts.postThrottled).toBeGreaterThan(0);
    expect(stack.faults.counts.postGone).toBeGreaterThan(0);
    // Each handler logs its outcome after its deliveries: wait for the log rather than sample it.
    await eventually(() => outcomes.length >= sent.size, 30_000);
    expect(outcomes.length).toBe(sent.size);
    expect(outcomes.reduce((sum, outcome) => sum + outcome.failed, 0)).toBe(0);
    expect(errors).toEqual([]);
    await Promise.all(clients.map((client) => client.close()));
  }, 120_000);
});
