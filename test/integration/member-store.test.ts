import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemberStore } from "../../lambda/core/member-store.ts";
import { testStore, useTestTables } from "./harness.ts";

// Private channels' members against each local store, as a model-based property: whatever sequence of entries,
// invites and removes by whoever, a user may enter exactly when the model says they are the owner or a member.

const tables = useTestTables("m");

const USERS = ["Ann", "Bob", "Cat", "Dan"] as const;
type User = (typeof USERS)[number];
const step = fc.oneof(
  fc.record({ op: fc.constant("enter" as const), user: fc.constantFrom(...USERS) }),
  fc.record({
    op: fc.constantFrom("invite" as const, "remove" as const),
    by: fc.constantFrom(...USERS),
    user: fc.constantFrom(...USERS),
  }),
);

let run = 0;

describe(`private channels' members on ${testStore}`, () => {
  it("admits exactly the owner and the members the owner has invited and not removed, whoever tries what", async () => {
    const store = new MemberStore(tables.doc, tables.names.members);
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        const channel = `private-p${++run}`;
        let owner: User | undefined;
        const members = new Set<User>();
        for (const s of steps) {
          if (s.op === "enter") {
            const role = await store.enter(channel, s.user);
            owner ??= s.user; // the first to enter a channel nobody entered owns it
            const expected = s.user === owner ? "owner" : members.has(s.user) ? "member" : "none";
            expect(role, `${s.user} enters`).toBe(expected);
          } else {
            const change =
              s.op === "invite" ? await store.invite(channel, s.by, s.user) : await store.remove(channel, s.by, s.user);
            const allowed = s.by === owner && !(s.op === "remove" && s.user === owner);
            if (!allowed) {
              expect(change, `${s.by} ${s.op}s ${s.user}`).toBe("forbidden");
              continue;
            }
            const had = s.user === owner || members.has(s.user);
            if (s.op === "invite") {
              expect(change).toBe(had ? "unchanged" : "done");
              if (s.user !== owner) members.add(s.user);
            } else {
              expect(change).toBe(had ? "done" : "unchanged");
              members.delete(s.user);
            }
          }
        }
        for (const user of USERS) {
          const expected = user === owner ? "owner" : members.has(user) ? "member" : "none";
          expect(await store.roleOf(channel, user), `${user} at the end`).toBe(expected);
          expect(await store.isMember(channel, user)).toBe(expected !== "none");
        }
      }),
      { numRuns: 30 },
    );
  }, 60_000);

  it("gives a new channel one owner however many first entries race", async () => {
    const store = new MemberStore(tables.doc, tables.names.members);
    const roles = await Promise.all(USERS.map((user) => store.enter("private-race", user)));
    expect(roles.filter((role) => role === "owner")).toHaveLength(1);
    expect(roles.filter((role) => role === "none")).toHaveLength(USERS.length - 1);
  });
});
