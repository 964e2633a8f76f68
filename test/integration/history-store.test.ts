import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HistoryStore } from "../../lambda/core/history-store.ts";
import type { MessageFrame } from "../../lambda/core/server-frames.ts";
import { documentClient } from "../../lambda/runtime/aws-clients.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws.ts";
import { type LocalDynamo, startLocalDynamo } from "../../local/local-dynamo.ts";
import { NOW } from "../fixtures.ts";

// The history store against dynalite: conditional writes and key ranges as DynamoDB evaluates them, with a fixed
// clock, so window edges fall where the test puts them.

const names = { connections: "h-connections", history: "h-history" };
let dynamo: LocalDynamo;
let doc: ReturnType<typeof documentClient>;
beforeAll(async () => {
  dynamo = await startLocalDynamo(names);
  doc = documentClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, dynamoEndpoint: dynamo.endpoint });
});
afterAll(async () => {
  doc.destroy();
  await dynamo.close();
});

const store = (now = NOW) => new HistoryStore(doc, names.history, { now: () => now });
let ids = 0;
const frame = (channel: string, timestamp: number, from = "Lucy"): MessageFrame => ({
  type: "message",
  id: `m${++ids}`,
  from,
  message: `at ${timestamp}`,
  channel,
  timestamp,
});

/** What the chat does per message: read the sender's slots, then claim one. */
async function send(history: HistoryStore, message: MessageFrame, connectionId: string) {
  const used = await history.slotsUsed(message.channel, connectionId, message.timestamp);
  return history.appendWithinRate(message, connectionId, used);
}

const stored = async (channel: string) =>
  (
    await doc.send(
      new QueryCommand({
        TableName: names.history,
        KeyConditionExpression: "channel = :c",
        ExpressionAttributeValues: { ":c": channel },
      }),
    )
  ).Items ?? [];

describe("history store on dynalite: the rate", () => {
  it("lets exactly 20 of 100 concurrent messages of one connection through per window, and 20 more in the next", async () => {
    const history = store();
    const burst = (at: number) =>
      Promise.all(Array.from({ length: 100 }, (_, i) => send(history, frame("burst", at + (i % 7)), "c1")));
    const first = await burst(NOW);
    expect(first.filter((outcome) => outcome === "stored")).toHaveLength(20);
    const second = await burst(NOW + 10_000);
    expect(second.filter((outcome) => outcome === "stored")).toHaveLength(20);

    const items = await stored("burst");
    expect(items).toHaveLength(40);
    expect(new Set(items.map((item) => item.id)).size).toBe(40);
    const slots = items.map((item) => String(item.sk).slice(-4));
    expect(slots.sort()).toEqual(
      Array.from({ length: 20 }, (_, slot) => String(slot).padStart(4, "0"))
        .flatMap((slot) => [slot, slot])
        .sort(),
    );
  });

  it("counts each connection on its own, even when ids share a prefix", async () => {
    const history = store();
    const outcomes = await Promise.all(
      ["ab", "abc"].flatMap((id) => Array.from({ length: 30 }, () => send(history, frame("pair", NOW), id))),
    );
    expect(outcomes.slice(0, 30).filter((outcome) => outcome === "stored")).toHaveLength(20);
    expect(outcomes.slice(30).filter((outcome) => outcome === "stored")).toHaveLength(20);
  });

  it("starts from the slot the read gives, and still never passes the maximum with a read that lags", async () => {
    const history = store();
    for (let i = 0; i < 20; i++) await history.appendWithinRate(frame("lag", NOW), "c1", 0);
    await expect(history.slotsUsed("lag", "c1", NOW)).resolves.toBe(20);
    await expect(history.appendWithinRate(frame("lag", NOW), "c1", 0)).resolves.toBe("limited");
    expect(await stored("lag")).toHaveLength(20);
  });
});

describe("history store on dynalite: recent", () => {
  it("returns the newest messages by time, oldest first, however keys order them within a window", async () => {
    const message = fc.record({
      window: fc.integer({ min: 0, max: 5 }),
      offset: fc.integer({ min: 0, max: 9_999 }),
      sender: fc.constantFrom("zed", "amy", "kim", "bo"),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(message, { minLength: 30, maxLength: 160 }),
        fc.integer({ min: 1, max: 60 }),
        async (sent, count) => {
          const channel = `recent-${++run}`;
          const frames = sent
            .map(({ window, offset, sender }) => ({
              sender,
              frame: frame(channel, NOW + window * 10_000 + offset, sender),
            }))
            .sort((a, b) => a.frame.timestamp - b.frame.timestamp);
          const kept: MessageFrame[] = [];
          for (const { sender, frame: message } of frames) {
            if ((await store().appendWithinRate(message, sender)) === "stored") kept.push(message);
          }
          const history = store(NOW + 60_000);
          const expected = kept
            .sort((a, b) => a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
            .slice(-count);
          await expect(history.recent(channel, count)).resolves.toEqual(expected);
        },
      ),
      { numRuns: 40 },
    );
  }, 60_000);

  it("leaves expired messages out, however many of them are stored", async () => {
    const day = 86_400_000;
    const old = Array.from({ length: 120 }, (_, i) => frame("expiry", NOW - day - 60_000 + i * 400, `old${i % 6}`));
    const fresh = [frame("expiry", NOW - day + 1_500), frame("expiry", NOW - 5)];
    for (const message of [...old, ...fresh]) await store().appendWithinRate(message, message.from);
    await expect(store().recent("expiry")).resolves.toEqual(fresh);
  });
});
