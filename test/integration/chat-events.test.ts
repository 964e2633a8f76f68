import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalEvent } from "../../local/local-events.ts";
import type { LocalStack } from "../../local/local-stack.ts";
import { connect, startTestStack, WAIT_MS } from "./harness.ts";

let stack: LocalStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack.close();
});

const channel = () => `ev-${randomBytes(4).toString("hex")}`;
const user = (name: string) => `${name} ${randomBytes(3).toString("hex")}`;

/** `GET {url}/local/events`, as a developer reads it. */
async function localEvents(): Promise<LocalEvent[]> {
  const response = await fetch(`${stack.url}/local/events`);
  expect(response.status).toBe(200);
  return (await response.json()) as LocalEvent[];
}

/** The events of one channel, as `[detail-type, username, message?]`, in the order the bus got them. */
async function eventsOf(room: string): Promise<unknown[][]> {
  return (await localEvents())
    .filter((event) => (event.detail as { channel: string }).channel === room)
    .map((event) => {
      const detail = event.detail as { username: string; message?: string };
      return [event["detail-type"], detail.username, ...(detail.message === undefined ? [] : [detail.message])];
    });
}

async function publish(room: string, body: object): Promise<Response> {
  return fetch(`${stack.publishUrl}/channels/${room}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("events out", () => {
  it("put each join, message and leave on the bus, as EventBridge hands them to a rule's target", async () => {
    const room = channel();
    const lucy = user("Lucy");
    const client = await connect(stack, lucy, room);
    client.send("hello from Lucy");
    const sent = await client.ofType("message");
    expect((await publish(room, { message: "Invoice paid", from: "Billing" })).status).toBe(200);
    await client.next((frame) => frame.type === "message" && frame.from === "Billing");
    await client.close();

    await expect
      .poll(() => eventsOf(room), { timeout: WAIT_MS })
      .toEqual([
        ["member.joined", lucy],
        ["message.sent", lucy, "hello from Lucy"],
        ["message.sent", "Billing", "Invoice paid"],
        ["member.left", lucy],
      ]);
    const message = (await localEvents()).find((event) => (event.detail as { id?: string }).id === sent.id);
    expect(message).toEqual({
      version: "0",
      id: expect.any(String),
      "detail-type": "message.sent",
      source: "chat",
      account: expect.any(String),
      time: new Date(Math.floor(sent.timestamp / 1000) * 1000).toISOString().replace(".000Z", "Z"),
      region: expect.any(String),
      resources: [],
      detail: { channel: room, username: lucy, id: sent.id, timestamp: sent.timestamp, message: "hello from Lucy" },
    });
  });

  it("make one join and one leave per user, however many of their connections come and go", async () => {
    const room = channel();
    const bob = user("Bob");
    const first = await connect(stack, bob, room);
    const second = await connect(stack, bob, room);
    await first.close();
    await second.close();
    await expect
      .poll(() => eventsOf(room), { timeout: WAIT_MS })
      .toEqual([
        ["member.joined", bob],
        ["member.left", bob],
      ]);
  });

  it("come only from what was stored: a refused publish makes none", async () => {
    const room = channel();
    expect((await publish(room, { message: "" })).status).toBe(400);
    expect((await publish(room, { message: "kept", from: "Billing" })).status).toBe(200);
    await expect.poll(() => eventsOf(room), { timeout: WAIT_MS }).toEqual([["message.sent", "Billing", "kept"]]);
  });

  it.each(["fail", "hang"] as const)(
    "never hold up or fail delivery when the bus %ss, and arrive once it heals",
    async (fault) => {
      const room = channel();
      const zoe = await connect(stack, user("Zoe"), room);
      const { bus } = stack.events;
      const refusedBefore = bus.calls;
      bus.fault = fault;
      try {
        const answer = await publish(room, { message: `while the bus ${fault}s`, from: "Billing" });
        expect(answer.status).toBe(200);
        expect(await zoe.ofType("message")).toMatchObject({ from: "Billing", message: `while the bus ${fault}s` });
        zoe.send("and a member's message");
        expect(await zoe.ofType("message")).toMatchObject({ message: "and a member's message" });
        // The events function has tried the bus meanwhile, and got nowhere.
        if (fault === "fail") await expect.poll(() => bus.calls, { timeout: WAIT_MS }).toBeGreaterThan(refusedBefore);
        else await expect.poll(() => bus.held, { timeout: WAIT_MS }).toBeGreaterThan(0);
        expect((await eventsOf(room)).filter(([type]) => type === "message.sent")).toEqual([]);
      } finally {
        bus.heal();
      }
      await expect
        .poll(() => eventsOf(room), { timeout: 3 * WAIT_MS, interval: 200 })
        .toEqual(
          expect.arrayContaining([
            ["message.sent", "Billing", `while the bus ${fault}s`],
            ["message.sent", expect.any(String), "and a member's message"],
          ]),
        );
      await zoe.close();
    },
  );

  it("keep the latest 100 at /local/events, oldest first", async () => {
    const room = channel();
    for (let i = 0; i < 105; i++) {
      expect((await publish(room, { message: `n${i}`, from: "Counter" })).status).toBe(200);
    }
    await expect
      .poll(async () => (await eventsOf(room)).at(-1), { timeout: WAIT_MS })
      .toEqual(["message.sent", "Counter", "n104"]);
    const events = await localEvents();
    expect(events).toHaveLength(100);
    expect(events.map((event) => (event.detail as { message: string }).message)).toEqual(
      Array.from({ length: 100 }, (_, i) => `n${i + 5}`),
    );
  });
});
