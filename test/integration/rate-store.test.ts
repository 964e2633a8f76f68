import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { describe, expect, it } from "vitest";
import { RateStore } from "../../lambda/core/rate-store.ts";
import { NOW } from "../fixtures.ts";
import { testStore, useTestTables } from "./harness.ts";

// The rate store against each local store: conditional updates, nested map paths and size() as DynamoDB evaluates
// them. The clock is fixed in the past, so TTL stays off (DynamoDB Local would delete the items at once).

const tables = useTestTables("r");

const WINDOW_START = Math.ceil(NOW / 10_000) * 10_000;
const store = (now = WINDOW_START) => new RateStore(tables.doc, tables.names.rates, { now: () => now });
const rule = { max: 20, windowMs: 10_000 };
let keys = 0;
const freshKey = () => `test-${testStore}-${++keys}`;

describe(`rate store on ${testStore}`, () => {
  it("allows exactly 20 of 100 racing takes in one window, from separate processes' stores, and 20 more in the next", async () => {
    const key = freshKey();
    // Five stores stand for five Lambda instances: none has seen the window full before the race.
    const stores = Array.from({ length: 5 }, () => store(WINDOW_START + 1_000));
    const decisions = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (stores[i % 5] as RateStore).take(key, rule)),
    );
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(20);
    expect(decisions.find((decision) => !decision.allowed)).toEqual({ allowed: false, retryAfterMs: 9_000 });
    const next = await Promise.all(Array.from({ length: 30 }, () => store(WINDOW_START + 10_000).take(key, rule)));
    expect(next.filter((decision) => decision.allowed)).toHaveLength(20);
  });

  it("counts events per window and answers the running count", async () => {
    const key = freshKey();
    const counts = await Promise.all(Array.from({ length: 10 }, () => store().count(key, 60_000)));
    expect(counts.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await store(WINDOW_START + 60_000).count(key, 60_000)).toBe(1);
  });

  it("gives an item a TTL just past its window", async () => {
    const key = freshKey();
    await store(WINDOW_START + 3_000).take(key, rule);
    const { Item } = await tables.doc.send(
      new GetCommand({ TableName: tables.names.rates, Key: { key: `${key}#${WINDOW_START / 10_000}` } }),
    );
    expect(Item).toMatchObject({ count: 1, expiresAt: (WINDOW_START + 10_000) / 1000 + 60 });
  });

  it("holds at most 10 connections of a user however many handshakes race, and holds the same one twice once", async () => {
    const user = `Lucy-${freshKey()}`;
    const expiresAt = Math.floor(WINDOW_START / 1000) + 7_800;
    const holds = await Promise.all(
      Array.from({ length: 25 }, (_, i) => store().holdConnection(user, `c${i}`, expiresAt, 10)),
    );
    expect(holds.filter((hold) => hold === "held")).toHaveLength(10);
    const held = Object.keys((await store().connectionsOf(user)) ?? {});
    const first = held[0] as string;
    expect(held).toHaveLength(10);
    expect(await store().holdConnection(user, first, expiresAt, 10)).toBe("held");
    expect(await store().holdConnection(user, "another", expiresAt, 10)).toBe("full");
    await store().releaseConnection(user, first);
    await store().releaseConnection(user, "never-held");
    expect(await store().holdConnection(user, "another", expiresAt, 10)).toBe("held");
    expect(Object.keys((await store().connectionsOf(user)) ?? {})).toHaveLength(10);
  });

  it("drops connections whose TTL has passed (their $disconnect never ran) when the user is full", async () => {
    const user = `Bob-${freshKey()}`;
    const soon = Math.floor(WINDOW_START / 1000) + 60;
    for (let i = 0; i < 10; i++) expect(await store().holdConnection(user, `old${i}`, soon, 10)).toBe("held");
    const later = WINDOW_START + 61_000;
    expect(await store(later).holdConnection(user, "new", soon + 7_800, 10)).toBe("held");
    expect(Object.keys((await store(later).connectionsOf(user)) ?? {})).toEqual(["new"]);
  });

  it("keeps a closed connection's place after its release until the time given, out of the live connections", async () => {
    const user = `Mallory-${freshKey()}`;
    const expiresAt = Math.floor(WINDOW_START / 1000) + 7_800;
    const keptUntil = Math.floor(WINDOW_START / 1000) + 60;
    for (let i = 0; i < 10; i++) expect(await store().holdConnection(user, `tab${i}`, expiresAt, 10)).toBe("held");
    await store().keepPlace(user, "tab0", keptUntil);
    await store().releaseConnection(user, "tab0");
    // tab0 is gone from the live connections, yet its place is taken: the user is still full.
    expect(Object.keys((await store().connectionsOf(user)) ?? {}).sort()).toEqual(
      Array.from({ length: 9 }, (_, i) => `tab${i + 1}`).sort(),
    );
    expect(await store().holdConnection(user, "again", expiresAt, 10)).toBe("full");
    // Once the time given has passed, the kept place goes as a stale hold does, and only then.
    expect(await store(WINDOW_START + 59_000).holdConnection(user, "again", expiresAt, 10)).toBe("full");
    expect(await store(WINDOW_START + 60_000).holdConnection(user, "again", expiresAt, 10)).toBe("held");
    expect(Object.keys((await store().connectionsOf(user)) ?? {})).toHaveLength(10);
    // A user whose every place is kept is told so: none of them is a connection that could be found dead. A second
    // keep of the same place (a close tried again) does not make it last longer.
    const trudy = `Trudy-${freshKey()}`;
    for (let i = 0; i < 10; i++) {
      expect(await store().holdConnection(trudy, `tab${i}`, expiresAt, 10)).toBe("held");
      await store().keepPlace(trudy, `tab${i}`, keptUntil);
      await store().keepPlace(trudy, `tab${i}`, keptUntil + 30);
      await store().releaseConnection(trudy, `tab${i}`);
    }
    expect(await store().holdConnection(trudy, "again", expiresAt, 10)).toBe("kept");
    expect(await store().connectionsOf(trudy)).toEqual({});
    expect(await store(WINDOW_START + 60_000).holdConnection(trudy, "again", expiresAt, 10)).toBe("held");
    // A user with no item has no place to keep: nothing is written, nothing fails.
    const nobody = `Nobody-${freshKey()}`;
    await store().keepPlace(nobody, "c1", keptUntil);
    expect(await store().connectionsOf(nobody)).toBeUndefined();
  });
  it("remembers a full user as full once its live connections answered: until its first kept place expires, or for 5 s", async () => {
    const expiresAt = Math.floor(WINDOW_START / 1000) + 7_800;
    const keptUntil = Math.floor(WINDOW_START / 1000) + 60;
    const fill = async (user: string, kept: number) => {
      for (let i = 0; i < 10; i++) expect(await store().holdConnection(user, `tab${i}`, expiresAt, 10)).toBe("held");
      for (let i = 0; i < kept; i++) {
        await store().keepPlace(user, `tab${i}`, keptUntil);
        await store().releaseConnection(user, `tab${i}`);
      }
    };
    // Nine places kept for connections closed for flooding, one quiet live connection.
    const flooder = `Eve-${freshKey()}`;
    await fill(flooder, 9);
    const instance = store(WINDOW_START + 1_000);
    expect(await instance.holdConnection(flooder, "retry", expiresAt, 10)).toBe("full");
    instance.stayFull(flooder);
    // This instance answers from memory (another, asking DynamoDB, still finds the user full, not kept)...
    expect(await instance.holdConnection(flooder, "retry", expiresAt, 10)).toBe("kept");
    expect(await store(WINDOW_START + 1_000).holdConnection(flooder, "retry", expiresAt, 10)).toBe("full");
    // ...until the first kept place expires.
    const later = store(WINDOW_START + 60_000);
    expect(await later.holdConnection(flooder, "retry", expiresAt, 10)).toBe("held");
    // A full user with no kept place is remembered for 5 s only: any of its tabs may close.
    const busy = `Fay-${freshKey()}`;
    await fill(busy, 0);
    const clock = { now: WINDOW_START + 1_000 };
    const other = new RateStore(tables.doc, tables.names.rates, { now: () => clock.now });
    expect(await other.holdConnection(busy, "tab10", expiresAt, 10)).toBe("full");
    other.stayFull(busy);
    await store().releaseConnection(busy, "tab3");
    clock.now += 4_999;
    expect(await other.holdConnection(busy, "tab10", expiresAt, 10)).toBe("kept");
    clock.now += 1;
    expect(await other.holdConnection(busy, "tab10", expiresAt, 10)).toBe("held");
  });
});
