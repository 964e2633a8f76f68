import * as v from "valibot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { limits } from "../../lambda/core/limits.ts";
import { type ServerFrame, serverFrameSchema } from "../../lambda/core/server-frames.ts";
import { signSessionToken, tokenKey } from "../../lambda/core/session-token.ts";
import { CHAT_SUBPROTOCOL } from "../../lambda/core/subprotocol.ts";
import type { LocalStack } from "../../local/local-stack.ts";
import { SECRET } from "../fixtures.ts";
import {
  type ChatClient,
  connect,
  eventually,
  openSocket,
  requestSession,
  roomInRateWindow,
  startTestStack,
  storedConnections,
  tokenFor,
} from "./harness.ts";

let stack: LocalStack;
const clients: ChatClient[] = [];
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await stack.close();
});

/** Connects and remembers the client for cleanup; waits until the connection is stored. */
async function join(username: string, channel?: string): Promise<ChatClient> {
  const client = await connect(stack, username, channel);
  clients.push(client);
  return client;
}

const valid = (frame: unknown) => v.is(serverFrameSchema, frame);

/** The rate windows the chat messages among `frames` were handled in. */
const windowsOf = (frames: ServerFrame[]) =>
  new Set(
    frames.flatMap((frame) => (frame.type === "message" ? [Math.floor(frame.timestamp / limits.rateWindowMs)] : [])),
  );

describe("session and config (PROTOCOL §1–2)", () => {
  it("serves config.json naming the local WebSocket and session URLs", async () => {
    const config = await (await fetch(`${stack.url}/config.json`)).json();
    expect(config).toEqual({ wsUrl: stack.wsUrl, sessionUrl: stack.sessionUrl, auth: { mode: "guest" } });
  });

  it("answers a valid username with a token and its expiry", async () => {
    const { status, body } = await requestSession(stack, { username: "Lucy" });
    expect(status).toBe(200);
    expect(body).toEqual({ token: expect.any(String), username: "Lucy", expiresAt: expect.any(Number) });
    expect(body.expiresAt).toBeGreaterThan(Date.now() + 3_500_000);
  });

  it.each([["{}"], ['{"username":""}'], ["not json"], ['{"username":"<server>"}']])(
    "answers %s with 400 and an error",
    async (body) => {
      const response = await requestSession(stack, body);
      expect(response.status).toBe(400);
      expect(response.body.error).toEqual(expect.any(String));
    },
  );

  it("answers a body over 16 KiB with 413", async () => {
    expect((await requestSession(stack, { username: "x".repeat(17_000) })).status).toBe(413);
  });
});

describe("connect (PROTOCOL §3)", () => {
  const refused = async (query: string) => {
    const before = (await storedConnections(stack)).length;
    const error = await openSocket(`${stack.wsUrl}${query}`).then(
      () => undefined,
      (reason: { status?: number }) => reason,
    );
    expect((await storedConnections(stack)).length).toBe(before);
    return error?.status;
  };

  it("refuses a handshake without a token with 401", async () => {
    expect(await refused("?channel=support")).toBe(401);
  });

  it("refuses an expired token with 401", async () => {
    const { token } = await signSessionToken(tokenKey(SECRET), "Lucy", 60, Date.now() - 120_000);
    expect(await refused(`?channel=support&token=${token}`)).toBe(401);
  });

  it("refuses a tampered token with 401", async () => {
    const token = await tokenFor(stack, "Lucy");
    const [header, payload, signature] = token.split(".");
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload ?? "", "base64url").toString()), sub: "Bob" }),
    ).toString("base64url");
    expect(await refused(`?channel=support&token=${header}.${forged}.${signature}`)).toBe(401);
  });

  it("refuses an invalid channel with 403", async () => {
    expect(await refused(`?channel=no%20spaces&token=${await tokenFor(stack, "Lucy")}`)).toBe(403);
    expect(await refused(`?channel=&token=${await tokenFor(stack, "Lucy")}`)).toBe(403);
  });

  it("stores an accepted connection and tells the others, not the newcomer", async () => {
    const lucy = await join("Lucy", "join-test");
    const bob = await join("Bob", "join-test");
    const notice = await lucy.ofType("system");
    expect(notice).toEqual({
      type: "system",
      from: "<server>",
      message: "Bob connected",
      channel: "join-test",
      timestamp: expect.any(Number),
    });
    expect(valid(notice)).toBe(true);
    lucy.send({ action: "ping" });
    bob.send({ action: "ping" });
    await Promise.all([lucy.ofType("pong"), bob.ofType("pong")]);
    expect(bob.frames.filter((frame) => frame.type === "system")).toEqual([]);
    const stored = await storedConnections(stack);
    expect(
      stored
        .filter((item) => item.channel === "join-test")
        .map((item) => item.username)
        .sort(),
    ).toEqual(["Bob", "Lucy"]);
  });

  it("keeps members that join at the same moment (a 410 during $connect is not staleness)", async () => {
    const names = Array.from({ length: 8 }, (_, i) => `Crowd${i}`);
    const crowd = await Promise.all(names.map((name) => join(name, "crowd-test")));
    const [first] = crowd as [ChatClient];
    first.send({ action: "who" });
    expect((await first.ofType("presence")).users).toEqual(names);
  });

  it("accepts the token as a subprotocol, off the URL, and echoes chat.v1 as API Gateway requires", async () => {
    const token = await tokenFor(stack, "Sub");
    const client = await openSocket(`${stack.wsUrl}?channel=subprotocol`, [CHAT_SUBPROTOCOL, token]);
    clients.push(client);
    expect(client.socket.protocol).toBe(CHAT_SUBPROTOCOL);
    client.send({ action: "who" });
    expect(await client.ofType("presence")).toEqual({
      type: "presence",
      channel: "subprotocol",
      users: ["Sub"],
      count: 1,
    });
  });

  it("refuses a bad token offered as a subprotocol with 401", async () => {
    const token = await tokenFor(stack, "Sub");
    const error = await openSocket(`${stack.wsUrl}?channel=subprotocol`, [CHAT_SUBPROTOCOL, `${token}x`]).catch(
      (reason: { status?: number }) => reason,
    );
    expect((error as { status?: number }).status).toBe(401);
  });

  it("puts a connection without a channel into default", async () => {
    const anna = await join("Anna");
    anna.send({ action: "who" });
    expect(await anna.ofType("presence")).toEqual({ type: "presence", channel: "default", users: ["Anna"], count: 1 });
  });
});

describe("messages (PROTOCOL §4–5)", () => {
  it("sends a chat message to every member, the sender included, and to no other channel", async () => {
    const lucy = await join("Lucy", "support");
    const bob = await join("Bob", "support");
    const eve = await join("Eve", "sales");
    await lucy.ofType("system");
    lucy.send("hello"); // the seed's wschat.send("hello")
    const [own, theirs] = await Promise.all([lucy.ofType("message"), bob.ofType("message")]);
    expect(own).toEqual({
      type: "message",
      id: expect.any(String),
      from: "Lucy",
      message: "hello",
      channel: "support",
      timestamp: expect.any(Number),
    });
    expect(theirs).toEqual(own);
    expect(valid(own)).toBe(true);
    eve.send({ action: "ping" });
    await eve.ofType("pong");
    expect(eve.frames).toEqual([]);
  });

  it("answers who with the channel's users, unique and sorted", async () => {
    const a = await join("Zoë", "who-test");
    await join("Adam", "who-test");
    await join("Adam", "who-test");
    a.send({ action: "who" });
    expect(await a.ofType("presence")).toEqual({
      type: "presence",
      channel: "who-test",
      users: ["Adam", "Zoë"],
      count: 2,
    });
  });

  it("returns the history after a reconnect, oldest first", async () => {
    const first = await join("Lucy", "history-test");
    for (const text of ["one", "two", "three"]) {
      first.send({ action: "send", message: text });
      await first.next((frame) => frame.type === "message" && frame.message === text);
    }
    await first.close();
    const again = await join("Lucy", "history-test");
    again.send({ action: "history" });
    const history = await again.ofType("history");
    expect(history.channel).toBe("history-test");
    expect(history.messages.map((message: { message: string }) => message.message)).toEqual(["one", "two", "three"]);
    expect(valid(history)).toBe(true);
  });

  it("answers ping with pong", async () => {
    const client = await join("Pat", "ping-test");
    client.send({ action: "ping" });
    expect(await client.ofType("pong")).toEqual({ type: "pong", timestamp: expect.any(Number) });
  });

  it.each([
    [{ action: "send" }, "bad_request"],
    [{ action: "send", message: 42 }, "bad_request"],
    [{ action: "dance" }, "unknown_action"],
    [{ action: "send", message: "x".repeat(4001) }, "too_large"],
  ])("answers %j with %s and keeps the connection", async (frame, code) => {
    const client = await join("Err", "errors-test");
    client.send(frame);
    expect(await client.ofType("error")).toEqual({ type: "error", code, message: expect.any(String) });
    client.send({ action: "ping" });
    await client.ofType("pong");
  });

  it("closes a connection that sends a binary frame with 1003, as API Gateway does: nothing stored, the others told", async () => {
    const stay = await join("Stay", "binary-test");
    const bin = await join("Bin", "binary-test");
    await stay.ofType("system");
    bin.socket.send(Buffer.from("hello as bytes"));
    bin.send("text behind the binary frame");
    expect((await bin.closed).code).toBe(1003);
    expect(await stay.ofType("system")).toMatchObject({ message: "Bin disconnected", channel: "binary-test" });
    const stored = await storedConnections(stack);
    expect(stored.filter((item) => item.channel === "binary-test").map((item) => item.username)).toEqual(["Stay"]);
    stay.send({ action: "history" });
    expect((await stay.ofType("history")).messages).toEqual([]);
    expect(stay.frames.filter((frame) => frame.type === "message")).toEqual([]);
  });

  it("answers the 21st message within 10 seconds with rate_limited", async () => {
    const client = await join("Flood", "rate-test");
    await roomInRateWindow();
    for (let i = 1; i <= 21; i++) client.send(`message ${i}`);
    expect(await client.ofType("error")).toMatchObject({ code: "rate_limited" });
    await eventually(() => client.frames.filter((frame) => frame.type === "message").length >= 20);
    // Every frame was answered (20 echoes, one refusal), so nothing more is on its way.
    client.send({ action: "ping" });
    await client.ofType("pong");
    expect(client.frames.filter((frame) => frame.type === "message")).toHaveLength(20);
    expect(windowsOf(client.frames).size).toBe(1);
  });

  it("accepts exactly 20 of a burst of 100 concurrent frames and answers the rest rate_limited (atomic counting)", async () => {
    const client = await join("Burst", "burst-test");
    await roomInRateWindow();
    for (let i = 1; i <= 100; i++) client.send(`burst ${i}`);
    await eventually(() => client.frames.length >= 100, 60_000);
    const messages = client.frames.filter((frame) => frame.type === "message");
    const limited = client.frames.filter((frame) => frame.type === "error" && frame.code === "rate_limited");
    // Handled within one window as a rule; on a loaded machine the burst may cross into the next one, which then
    // accepts up to 20 more: in each window at most 20, and the full one exactly 20.
    const perWindow = [...windowsOf(messages)].map(
      (window) =>
        messages.filter(
          (frame) => frame.type === "message" && Math.floor(frame.timestamp / limits.rateWindowMs) === window,
        ).length,
    );
    expect(Math.max(...perWindow)).toBe(20);
    expect(new Set(messages.map((frame) => (frame.type === "message" ? frame.message : ""))).size).toBe(
      messages.length,
    );
    expect(limited).toHaveLength(100 - messages.length);
    // What another member sees of the burst afterwards: the same 20, in history.
    const other = await join("Watcher", "burst-test");
    other.send({ action: "history" });
    const history = await other.ofType("history");
    expect(history.messages.map((message) => message.id).sort()).toEqual(
      messages.map((frame) => (frame.type === "message" ? frame.id : "")).sort(),
    );
  });

  it("closes the connection with 1009 for a frame over 32 KiB, as API Gateway does", async () => {
    const client = await join("Big", "limits-test");
    client.send("x".repeat(32 * 1024 + 1));
    expect((await client.closed).code).toBe(1009);
  });
});

describe("leaving (PROTOCOL §5)", () => {
  it("tells the others when a member disconnects and removes it", async () => {
    const lucy = await join("Lucy", "leave-test");
    const bob = await join("Bob", "leave-test");
    await lucy.ofType("system");
    await bob.close();
    expect(await lucy.ofType("system")).toMatchObject({ message: "Bob disconnected", channel: "leave-test" });
    const stored = await storedConnections(stack);
    expect(stored.filter((item) => item.channel === "leave-test").map((item) => item.username)).toEqual(["Lucy"]);
  });

  it("removes a client killed without a close frame", async () => {
    const lucy = await join("Lucy", "kill-test");
    const bob = await join("Bob", "kill-test");
    await lucy.ofType("system");
    bob.socket.terminate();
    expect(await lucy.ofType("system")).toMatchObject({ message: "Bob disconnected" });
  });
});
