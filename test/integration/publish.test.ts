import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { limits } from "../../lambda/core/limits.ts";
import { SERVER_NAME } from "../../lambda/core/names.ts";
import { publishBodyMaxBytes } from "../../lambda/core/publish.ts";
import type { ServerFrame } from "../../lambda/core/server-frames.ts";
import type { LocalStack } from "../../local/local-stack.ts";
import { type ChatClient, connect, startTestStack } from "./harness.ts";

let stack: LocalStack;
const clients: ChatClient[] = [];
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await stack.close();
});

/** A channel of this test's own. */
const channel = () => `pub-${randomBytes(4).toString("hex")}`;

/** Joins as a user of this test's own (at most 10 live connections per user). */
async function join(username: string, room: string): Promise<ChatClient> {
  const client = await connect(stack, `${username} ${randomBytes(3).toString("hex")}`, room);
  clients.push(client);
  return client;
}

/** `POST {publishUrl}/channels/{channel}/messages` with a raw body. */
async function publish(
  room: string,
  body: string | object,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${stack.publishUrl}/channels/${room}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The channel's history page, as a member asks for it. */
async function history(client: ChatClient): Promise<Extract<ServerFrame, { type: "history" }>["messages"]> {
  client.send({ action: "history" });
  return (await client.ofType("history")).messages;
}

describe("the publish API", () => {
  it("delivers a backend's message to every member of the channel, keeps it in history and answers its id", async () => {
    const room = channel();
    const lucy = await join("Lucy", room);
    const bob = await join("Bob", room);
    const elsewhere = await join("Zoe", channel());

    const answer = await publish(room, { message: "  Invoice 42 paid  ", from: "Billing" });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ id: expect.any(String), channel: room, timestamp: expect.any(Number) });
    const expected = {
      type: "message",
      id: answer.body.id,
      from: "Billing",
      message: "Invoice 42 paid",
      channel: room,
      timestamp: answer.body.timestamp,
    };
    expect(await lucy.ofType("message")).toEqual(expected);
    expect(await bob.ofType("message")).toEqual(expected);
    expect(await history(lucy)).toEqual([expected]);
    // Zoe's channel got nothing: a ping's answer comes after anything posted before it.
    elsewhere.send({ action: "ping" });
    await elsewhere.ofType("pong");
    expect(elsewhere.frames.filter((frame) => frame.type === "message")).toEqual([]);
  });

  it("sends as <server> when the body names no sender", async () => {
    const room = channel();
    const lucy = await join("Lucy", room);
    const answer = await publish(room, { message: "maintenance at noon" });
    expect(answer.status).toBe(200);
    expect(await lucy.ofType("message")).toMatchObject({ from: SERVER_NAME, message: "maintenance at noon" });
  });

  it("publishes to a channel nobody is in, and a member who joins later finds it in history", async () => {
    const room = channel();
    const answer = await publish(room, { message: "before anyone", from: "Billing" });
    expect(answer.status).toBe(200);
    const lucy = await join("Lucy", room);
    expect(await history(lucy)).toEqual([expect.objectContaining({ id: answer.body.id, message: "before anyone" })]);
  });

  it.each([
    ["a body that is not JSON", 400, "{"],
    ["no message", 400, { from: "Billing" }],
    ["an empty message", 400, { message: "   " }],
    ["a message that is not text", 400, { message: ["hi"] }],
    ["an invalid sender", 400, { message: "hi", from: "Bill/ing" }],
    ["the server's own name as sender", 400, { message: "hi", from: SERVER_NAME }],
    ["a message over 4,000 characters", 413, { message: "x".repeat(limits.messageMaxChars + 1) }],
    ["a body over the cap", 413, JSON.stringify({ message: "x", pad: "y".repeat(publishBodyMaxBytes) })],
  ])("refuses %s with %i, delivers and keeps nothing", async (_, status, body) => {
    const room = channel();
    const lucy = await join("Lucy", room);
    const answer = await publish(room, body);
    expect(answer.status).toBe(status);
    expect(answer.body).toEqual({ error: expect.any(String) });
    expect(await history(lucy)).toEqual([]);
    expect(lucy.frames.filter((frame) => frame.type === "message")).toEqual([]);
  });

  it.each(["bad%20name", "a.b", "c".repeat(limits.channelMaxChars + 1)])(
    "refuses the invalid channel %s with 400",
    async (room) => {
      const answer = await publish(room, { message: "hi" });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatch(/channel/);
    },
  );

  it("answers 404 for any other path or method under the publish URL, as an HTTP API does", async () => {
    expect((await fetch(`${stack.publishUrl}/channels/support/messages`)).status).toBe(404);
    expect((await fetch(`${stack.publishUrl}/channels/support`, { method: "POST", body: "{}" })).status).toBe(404);
    expect((await fetch(`${stack.publishUrl}/channels//messages`, { method: "POST", body: "{}" })).status).toBe(400);
  });
});
