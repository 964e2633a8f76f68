import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { limits } from "../../lambda/core/limits.ts";
import { RateStore } from "../../lambda/core/rate-store.ts";
import type { ServerFrame } from "../../lambda/core/server-frames.ts";
import type { LocalStack } from "../../local/local-stack.ts";
import { type ChatClient, connect, eventually, roomInRateWindow, startTestStack } from "./harness.ts";

// PROTOCOL v2's per-user limits on the local stack, with real sockets: rates per user across connections, the
// connection closed for ignoring rate_limited, and at most 10 live connections per user.

let stack: LocalStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
});

let users = 0;
/** A user name of its own per test, so no test shares another's rates. */
const newUser = (name: string) => `${name}${++users}`;
const isRateLimited = (frame: ServerFrame) => frame.type === "error" && frame.code === "rate_limited";

/** Waits until a client has had `count` frames matching `predicate` (kept, not taken). */
const received = (client: ChatClient, predicate: (frame: ServerFrame) => boolean, count: number) =>
  eventually(() => client.frames.filter(predicate).length >= count);

describe("rates by user", () => {
  it("shares 20 chat messages per 10 seconds among all of a user's connections, in any channels", async () => {
    const lucy = newUser("Lucy");
    const [tab1, tab2, tab3] = await Promise.all([
      connect(stack, lucy, "rates-a"),
      connect(stack, lucy, "rates-a"),
      connect(stack, lucy, "rates-b"),
    ]);
    await roomInRateWindow();
    for (let i = 0; i < 10; i++) for (const tab of [tab1, tab2, tab3]) tab.send(`message ${i}`);
    const tabs = [tab1, tab2, tab3] as ChatClient[];
    // Every frame gets exactly one answer: its own message back (tab1 and tab2 also get each other's) or a refusal.
    await eventually(() => {
      const refused = tabs.reduce((sum, tab) => sum + tab.frames.filter(isRateLimited).length, 0);
      const accepted = new Set(tabs.flatMap((tab) => tab.frames.flatMap((f) => (f.type === "message" ? [f.id] : []))));
      return refused + accepted.size === 30;
    });
    const accepted = new Set(tabs.flatMap((tab) => tab.frames.flatMap((f) => (f.type === "message" ? [f.id] : []))));
    expect(accepted.size).toBe(20);
    expect(tabs.reduce((sum, tab) => sum + tab.frames.filter(isRateLimited).length, 0)).toBe(10);
    await Promise.all(tabs.map((tab) => tab.close()));
  });

  it("keeps counting across a reconnect", async () => {
    const bob = newUser("Bob");
    const first = await connect(stack, bob, "rates-c");
    await roomInRateWindow();
    for (let i = 0; i < 20; i++) first.send(`message ${i}`);
    await received(first, (frame) => frame.type === "message", 20);
    await first.close();
    const again = await connect(stack, bob, "rates-c");
    again.send("one more");
    expect(await again.ofType("error")).toMatchObject({ code: "rate_limited" });
    await again.close();
  });

  it("limits other requests to 20 per 10 seconds, apart from chat messages", async () => {
    const zoe = newUser("Zoe");
    const client = await connect(stack, zoe, "rates-d");
    await roomInRateWindow();
    for (let i = 0; i < 15; i++) client.send({ action: "who" });
    for (let i = 0; i < 10; i++) client.send({ action: "ping" });
    await received(client, (frame) => ["presence", "pong"].includes(frame.type) || isRateLimited(frame), 25);
    const answered = client.frames.filter((frame) => frame.type === "presence" || frame.type === "pong").length;
    expect(answered).toBe(20);
    expect(client.frames.filter(isRateLimited)).toEqual(
      Array(5).fill({ type: "error", code: "rate_limited", message: "at most 20 requests per 10 seconds" }),
    );
    client.send("a chat message still goes through");
    expect(await client.ofType("message")).toMatchObject({ message: "a chat message still goes through" });
    await client.close();
  });

  it("closes a connection at its 100th rate_limited within a minute; the user's other connection stays", async () => {
    const mallory = newUser("Mallory");
    const [flooder, other] = await Promise.all([
      connect(stack, mallory, "rates-e"),
      connect(stack, mallory, "rates-e"),
    ]);
    // Enough frames for the 100th refusal even if a minute's edge passes during the burst (the count then starts
    // over once); no waiting for a window to start.
    for (let i = 0; i < 2 * (20 + limits.refusalsBeforeClose) + 30; i++) flooder.send(`flood ${i}`);
    const closed = await flooder.closed;
    expect(closed.code).toBe(1000);
    // Every refusal up to the 100th of its minute was answered before the close; frames after it may have been too.
    expect(flooder.frames.filter(isRateLimited).length).toBeGreaterThanOrEqual(limits.refusalsBeforeClose);
    other.send({ action: "ping" });
    expect(await other.ofType("pong")).toMatchObject({ type: "pong" });
    await other.close();
  });
});

describe("a connection closed for flooding", () => {
  it("keeps its place among the user's 10 for a minute, so reconnecting at once finds the user full", async () => {
    const trudy = newUser("Trudy");
    const tabs = await Promise.all(Array.from({ length: 10 }, () => connect(stack, trudy, "rates-f")));
    const [flooder, other] = tabs as [ChatClient, ChatClient];
    for (let i = 0; i < 2 * (20 + limits.refusalsBeforeClose) + 30; i++) flooder.send(`flood ${i}`);
    await flooder.closed;
    // Its $disconnect has let the connection go: nine live ones are left, and still no tenth gets in.
    const rates = new RateStore(stack.documentClient, stack.tables.rates);
    await eventually(async () => Object.keys((await rates.connectionsOf(trudy)) ?? {}).length === 9);
    await expect(connect(stack, trudy, "rates-f")).rejects.toMatchObject({ status: 429 });
    // The user's other connections go on as before, and another user is not affected.
    other.send({ action: "ping" });
    expect(await other.ofType("pong")).toMatchObject({ type: "pong" });
    const victor = await connect(stack, newUser("Victor"), "rates-f");
    await Promise.all([...tabs.slice(1), victor].map((tab) => tab.close()));
  });
});

describe("connections per user", () => {
  it("refuses the 11th live connection of a user with 429, and lets one in again once one closes", async () => {
    const ann = newUser("Ann");
    const tabs = await Promise.all(Array.from({ length: 10 }, (_, i) => connect(stack, ann, `tabs-${i % 3}`)));
    await expect(connect(stack, ann, "tabs-0")).rejects.toMatchObject({ status: 429 });
    // Another user is not affected.
    const ben = await connect(stack, newUser("Ben"), "tabs-0");
    await tabs[0]?.close();
    await eventually(async () => {
      try {
        tabs[0] = await connect(stack, ann, "tabs-0");
        return true;
      } catch {
        return false;
      }
    });
    await Promise.all([...tabs, ben].map((tab) => tab?.close()));
  });

  it("frees connections whose $disconnect was lost (API Gateway answers 410 for them) when a user is full", async () => {
    const dan = newUser("Dan");
    // Ten holds of connections that no longer exist, made two minutes ago: their $disconnect never ran.
    const rates = new RateStore(stack.documentClient, stack.tables.rates);
    const until = Math.floor(Date.now() / 1000) + limits.connectionTtlSeconds - 120;
    for (let i = 0; i < 10; i++) expect(await rates.holdConnection(dan, `lost${i}Conn=`, until, 10)).toBe("held");
    const client = await connect(stack, dan, "tabs-lost");
    const held = Object.keys((await rates.connectionsOf(dan)) ?? {});
    expect(held).toHaveLength(1);
    expect(held[0]).not.toMatch(/^lost/);
    await client.close();
  });

  it("lets at most 10 of 15 racing handshakes of one user in", async () => {
    const cat = newUser("Cat");
    const outcomes = await Promise.allSettled(Array.from({ length: 15 }, () => connect(stack, cat, "tabs-race")));
    const open = outcomes.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
    expect(open).toHaveLength(10);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") expect(outcome.reason).toMatchObject({ status: 429 });
    }
    await Promise.all(open.map((client) => client.close()));
  });
});
