import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareCodePoints } from "../../lambda/core/names.ts";
import { type Arrival, type Departure, PresenceStore } from "../../lambda/core/presence-store.ts";
import { NOW } from "../fixtures.ts";
import { FakePresenceTable } from "./fake-presence-table.ts";

// Presence accounting under random interleavings: every request the store sends is one scheduled task, so the
// scheduler interleaves the arrivals and departures of several connections of several users at each request.

const USERS = ["Lucy", "Bob", "Zoë"] as const;
const EXPIRES_AT = NOW / 1000 + 7800;

/** A request as the scheduler's report shows it. */
const label = (command: unknown) => {
  const { Key, UpdateExpression, ExpressionAttributeValues } = (command as { input: Record<string, never> }).input;
  const values = ExpressionAttributeValues as Record<string, unknown> | undefined;
  const ids = values?.[":connection"] ?? values?.[":stale"];
  return `${(command as object).constructor.name} ${(Key as { user?: string } | undefined)?.user ?? ""} ${UpdateExpression ?? ""} ${ids ? [...(ids as Set<string>)].join(",") : ""}`;
};

/** One connection's life: it arrives, then maybe departs, maybe twice at once (a 410 and its `$disconnect`). */
const lives = fc
  .array(
    fc.record({
      user: fc.constantFrom(...USERS),
      departs: fc.boolean(),
      twice: fc.boolean(),
    }),
    { minLength: 1, maxLength: 9 },
  )
  .map((list) => list.map((life, i) => ({ ...life, connectionId: `c${i}` })));

describe("presence accounting", () => {
  it("tells exactly the 0↔1 transitions of each user, and counts the users with a connection", async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), lives, async (s, connections) => {
        const table = new FakePresenceTable();
        const store = new PresenceStore(
          table.client((send) => (command) => s.schedule(Promise.resolve(label(command))).then(() => send(command))),
          "presence",
          { now: () => NOW },
        );
        const arrivals = new Map<string, Arrival>();
        const departures = new Map<string, Departure[]>();
        const run = Promise.all(
          connections.map(async ({ user, connectionId, departs, twice }) => {
            arrivals.set(connectionId, await store.arrive("support", user, connectionId, EXPIRES_AT));
            if (!departs) return;
            const leaving = [store.depart("support", user, connectionId)];
            if (twice) leaving.push(store.depart("support", user, connectionId));
            departures.set(connectionId, await Promise.all(leaving));
          }),
        );
        await s.waitFor(run);

        // Each caller saw exactly the transition its own request made.
        for (const { user, connectionId, departs } of connections) {
          const added = table.changes.find((c) => c.connectionId === connectionId && c.op === "add");
          expect(arrivals.get(connectionId)?.first, `${user} ${connectionId} arrives`).toBe(added?.before === 0);
          if (!departs) continue;
          const removed = table.changes.filter((c) => c.connectionId === connectionId && c.op === "remove");
          expect(removed).toHaveLength(1);
          const lasts = (departures.get(connectionId) ?? []).filter((d) => d.last).length;
          expect(lasts, `${user} ${connectionId} departs`).toBe(removed[0]?.after === 0 ? 1 : 0);
        }
        // Per user, the notices alternate "connected", "disconnected", … and end with the user's presence.
        const present = table.present();
        for (const user of USERS) {
          const transitions = table.changes
            .filter((c) => c.user === user && (c.before === 0) !== (c.after === 0))
            .map((c) => (c.after > 0 ? "connected" : "disconnected"));
          transitions.forEach((notice, i) => {
            expect(notice).toBe(i % 2 === 0 ? "connected" : "disconnected");
          });
          const firsts = connections.filter((c) => c.user === user && arrivals.get(c.connectionId)?.first).length;
          const lasts = connections
            .filter((c) => c.user === user)
            .flatMap((c) => departures.get(c.connectionId) ?? [])
            .filter((d) => d.last).length;
          expect(firsts + lasts).toBe(transitions.length);
          expect(firsts - lasts).toBe(present.includes(user) ? 1 : 0);
        }
        // The kept count is the users with a connection, and `who` lists exactly them.
        const list = s.waitFor(store.list("support"));
        await expect(list).resolves.toEqual({ users: [...present].sort(compareCodePoints), count: present.length });
      }),
      { numRuns: 1000 },
    );
  });
});
