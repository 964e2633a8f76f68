import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ChatDeps, closesAt, handleFrame, type Participant } from "../../lambda/core/chat.ts";
import { ConnectionStore } from "../../lambda/core/connection-store.ts";
import { HistoryStore } from "../../lambda/core/history-store.ts";
import { limits } from "../../lambda/core/limits.ts";
import { MemberStore } from "../../lambda/core/member-store.ts";
import { PresenceStore } from "../../lambda/core/presence-store.ts";
import { RateStore } from "../../lambda/core/rate-store.ts";
import type { ServerFrame } from "../../lambda/core/server-frames.ts";
import { NOW } from "../fixtures.ts";
import { testStore, useTestTables } from "./harness.ts";

// Rate accounting across several connections of one user, as a property over the real stores: frames of up to four
// connections (in two channels), handled at once within each 10-second window by three "Lambda instances" (each its
// own RateStore, so each its own memory of full windows), in random order. Whatever the interleaving, each window
// lets exactly min(20, sent) chat messages and min(20, sent) other requests through, every frame gets exactly one
// answer, and a connection is closed exactly when it got 100 rate_limited answers within the minute.

const tables = useTestTables("ra");

type Kind = "chat" | "who" | "ping" | "bad";
const BODIES: Record<Kind, string> = {
  chat: "hello",
  who: '{"action":"who"}',
  ping: '{"action":"ping"}',
  bad: '{"action":"dance"}',
};
const frameArb = fc.record({
  connection: fc.integer({ min: 0, max: 3 }),
  kind: fc.constantFrom<Kind>("chat", "chat", "who", "ping", "bad"),
  window: fc.integer({ min: 0, max: 2 }),
  instance: fc.integer({ min: 0, max: 2 }),
});
/** Sometimes one connection floods its first window, so the 100th refusal (and the close) happens. */
const floodArb = fc.option(fc.integer({ min: 0, max: 3 }), { freq: 3 });

let run = 0;

describe(`rate accounting on ${testStore}`, () => {
  it("lets exactly min(20, sent) of each rate through per window, answers every frame once, closes at the 100th refusal", async () => {
    // NOW is minute-aligned: the three windows fall within one refusal window.
    expect(NOW % limits.refusalWindowMs).toBe(0);
    await fc.assert(
      fc.asyncProperty(fc.array(frameArb, { maxLength: 60 }), floodArb, async (generated, flood) => {
        const user = `Lucy${++run}`;
        const frames = [...generated];
        if (flood !== null) {
          for (let i = 0; i < 125; i++) frames.push({ connection: flood, kind: "chat", window: 0, instance: i % 3 });
        }
        let now = NOW;
        /** Each frame's answer (its route response), by connection. */
        const answers = new Map<string, { frame: ServerFrame; window: number }[]>();
        const closes = new Map<string, number>();
        /** Frames posted to each connection: only the refusals told before a close. */
        const posts = new Map<string, ServerFrame[]>();
        const poster = {
          async post(connectionId: string, data: Uint8Array) {
            posts.set(connectionId, [...(posts.get(connectionId) ?? []), JSON.parse(new TextDecoder().decode(data))]);
            return { status: "delivered" as const };
          },
          async close(connectionId: string) {
            closes.set(connectionId, (closes.get(connectionId) ?? 0) + 1);
            return { status: "delivered" as const };
          },
        };
        const instances: ChatDeps[] = [0, 1, 2].map(() => ({
          connections: new ConnectionStore(tables.doc, tables.names.connections),
          history: new HistoryStore(tables.doc, tables.names.history, { now: () => now }),
          presence: new PresenceStore(tables.doc, tables.names.presence, { now: () => now }),
          rates: new RateStore(tables.doc, tables.names.rates, { now: () => now }),
          members: new MemberStore(tables.doc, tables.names.members),
          poster,
          now: () => now,
        }));
        const participant = (connection: number): Participant => ({
          connectionId: `${user}-c${connection}`,
          username: user,
          channel: `${user}-${connection % 2}`,
        });

        for (const window of [0, 1, 2]) {
          now = NOW + window * limits.rateWindowMs + 500;
          const inWindow = frames.filter((frame) => frame.window === window);
          await Promise.all(
            inWindow.map(async (frame) => {
              const who = participant(frame.connection);
              const { answer } = await handleFrame(instances[frame.instance] as ChatDeps, who, BODIES[frame.kind]);
              const list = answers.get(who.connectionId) ?? [];
              list.push({ frame: JSON.parse(answer), window });
              answers.set(who.connectionId, list);
            }),
          );
          const answered = [...answers.values()]
            .flat()
            .filter((answer) => answer.window === window)
            .map((answer) => answer.frame);
          const chatSent = inWindow.filter((frame) => frame.kind === "chat").length;
          const otherSent = inWindow.length - chatSent;
          const messages = answered.filter((answer) => answer.type === "message").length;
          const refusedChat = answered.filter((a) => a.type === "error" && a.message.includes("messages")).length;
          const refusedOther = answered.filter((a) => a.type === "error" && a.message.includes("requests")).length;
          expect(messages).toBe(Math.min(limits.rateMaxMessages, chatSent));
          expect(refusedChat).toBe(chatSent - messages);
          // Other requests: the allowed ones get their answer (pong, presence, or unknown_action), the rest rate_limited.
          expect(refusedOther).toBe(otherSent - Math.min(limits.rateMaxRequests, otherSent));
          expect(answered).toHaveLength(inWindow.length);
        }

        for (const connection of [0, 1, 2, 3]) {
          const id = participant(connection).connectionId;
          const refusals = (answers.get(id) ?? []).filter(
            ({ frame }) => frame.type === "error" && frame.code === "rate_limited",
          );
          const expectedCloses = Array.from({ length: refusals.length }, (_, i) => closesAt(i + 1)).filter(
            Boolean,
          ).length;
          expect(expectedCloses).toBe(
            refusals.length >= limits.refusalsBeforeClose ? 1 + Math.floor((refusals.length - 100) / 50) : 0,
          );
          expect(closes.get(id) ?? 0, `closes of connection ${connection}`).toBe(expectedCloses);
          // Each close is told first by a post: its answer would come after the connection is gone.
          expect((posts.get(id) ?? []).map((frame) => frame.type === "error" && frame.code)).toEqual(
            Array.from({ length: expectedCloses }, () => "rate_limited"),
          );
        }
      }),
      { numRuns: 8 },
    );
  }, 120_000);
});
