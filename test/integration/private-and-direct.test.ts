import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admit, type ChatDeps, handleFrame, join, leave, NoLongerMemberError } from "../../lambda/core/chat.ts";
import { ConnectionStore } from "../../lambda/core/connection-store.ts";
import { HistoryStore } from "../../lambda/core/history-store.ts";
import { MemberStore } from "../../lambda/core/member-store.ts";
import { PresenceStore } from "../../lambda/core/presence-store.ts";
import { RateStore } from "../../lambda/core/rate-store.ts";
import type { ServerFrame } from "../../lambda/core/server-frames.ts";
import { documentClient } from "../../lambda/runtime/aws-clients.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws.ts";
import type { LocalStack } from "../../local/local-stack.ts";
import { type ChatClient, connect, eventually, roomInRateWindow, startTestStack } from "./harness.ts";

// Private channels and direct messages (PROTOCOL v2 §7) on the local stack, with real sockets.

let stack: LocalStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.close();
});

let n = 0;
const fresh = (name: string) => `${name}${++n}`;
const privateChannel = () => `private-team${++n}`;
const refusal = (client: ChatClient) => client.next((frame) => frame.type === "error", undefined, "an error");
const system = (client: ChatClient, text: string) =>
  client.next((frame) => frame.type === "system" && frame.message === text, undefined, `"${text}"`);

describe("private channels", () => {
  it("belong to their first user, who lets others in and takes them out", async () => {
    const [ann, bob, carl] = [fresh("Ann"), fresh("Bob"), fresh("Carl")];
    const channel = privateChannel();
    const owner = await connect(stack, ann, channel);
    await expect(connect(stack, bob, channel)).rejects.toMatchObject({ status: 403 });

    owner.send({ action: "invite", user: bob });
    await system(owner, `${ann} added ${bob}`);
    const member = await connect(stack, bob, channel);
    member.send("hello team");
    expect(await owner.ofType("message")).toMatchObject({ from: bob, message: "hello team", channel });

    // Only the owner changes the members.
    member.send({ action: "invite", user: carl });
    expect(await refusal(member)).toMatchObject({ code: "forbidden", message: "only the channel's owner can invite" });
    member.send({ action: "remove", user: ann });
    expect(await refusal(member)).toMatchObject({ code: "forbidden" });
    owner.send({ action: "remove", user: ann });
    expect(await refusal(owner)).toMatchObject({ code: "forbidden", message: "the owner cannot be removed" });
    owner.send({ action: "invite", user: bob });
    await system(owner, `${bob} is already a member`);

    // A removed member's connection is closed, and it cannot come back.
    owner.send({ action: "remove", user: bob });
    await member.closed;
    await system(owner, `${ann} removed ${bob}`);
    await expect(connect(stack, bob, channel)).rejects.toMatchObject({ status: 403 });
    await expect(connect(stack, carl, channel)).rejects.toMatchObject({ status: 403 });
    // The owner's history holds the member's message; nobody else reads it.
    owner.send({ action: "history" });
    expect(await owner.ofType("history")).toMatchObject({ channel, messages: [{ message: "hello team" }] });
    await owner.close();
  });

  it("have one owner however many first users race for a new one", async () => {
    const channel = privateChannel();
    const names = Array.from({ length: 6 }, () => fresh("Racer"));
    const outcomes = await Promise.allSettled(names.map((name) => connect(stack, name, channel)));
    const open = outcomes.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
    expect(open).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") expect(outcome.reason).toMatchObject({ status: 403 });
    }
    await open[0]?.close();
  });

  it("are the only channels with members: invite elsewhere is forbidden", async () => {
    const client = await connect(stack, fresh("Pat"), "public-room");
    client.send({ action: "invite", user: "Bob" });
    expect(await refusal(client)).toMatchObject({ code: "forbidden", message: "only private channels have members" });
    client.send({ action: "invite", user: "<server>" });
    expect(await refusal(client)).toMatchObject({ code: "bad_request" });
    await client.close();
  });
});

describe("direct messages", () => {
  it("reach every connection of both users, in any channel, and no one else", async () => {
    const [lucy, bob, carl] = [fresh("Lucy"), fresh("Bob"), fresh("Carl")];
    const [lucyTab1, lucyTab2, bobTab, carlTab] = await Promise.all([
      connect(stack, lucy, "dm-a"),
      connect(stack, lucy, "dm-b"),
      connect(stack, bob, "dm-c"),
      connect(stack, carl, "dm-a"),
    ]);
    lucyTab1.send({ action: "dm", to: bob, message: "  psst  " });
    const expected = { type: "dm", from: lucy, to: bob, message: "psst" };
    for (const tab of [bobTab, lucyTab1, lucyTab2]) expect(await tab.ofType("dm")).toMatchObject(expected);
    // Carl, in Lucy's first channel, gets nothing: a ping's answer comes after anything sent before it.
    carlTab.send({ action: "ping" });
    await carlTab.ofType("pong");
    expect(carlTab.frames.filter((frame) => frame.type === "dm")).toEqual([]);

    // Not an event: once a later channel message is on the local bus, the direct message is not there.
    lucyTab1.send("after the dm");
    const events = async () =>
      (await (await fetch(`${stack.url}/local/events`)).json()) as { detail: { message?: string; channel: string } }[];
    await eventually(async () => (await events()).some((event) => event.detail.message === "after the dm"));
    expect(
      (await events()).filter((event) => event.detail.message === "psst" || event.detail.channel.startsWith("dm#")),
    ).toEqual([]);
    lucyTab1.send({ action: "dm", to: lucy, message: "note to self" });
    expect(await refusal(lucyTab1)).toMatchObject({ code: "forbidden" });
    lucyTab1.send({ action: "dm", to: "", message: "hi" });
    expect(await refusal(lucyTab1)).toMatchObject({ code: "bad_request" });
    lucyTab1.send({ action: "dm", to: bob, message: "x".repeat(4_001) });
    expect(await refusal(lucyTab1)).toMatchObject({ code: "too_large" });
    await Promise.all([lucyTab1, lucyTab2, bobTab, carlTab].map((tab) => tab.close()));
  });

  it("are kept for an offline recipient, who pages through the conversation later", async () => {
    const [zoe, max] = [fresh("Zoë"), fresh("Max")];
    const sender = await connect(stack, zoe, "dm-d");
    for (let i = 0; i < 3; i++) {
      sender.send({ action: "dm", to: max, message: `while you were out ${i}` });
      await sender.ofType("dm");
    }
    await sender.close();
    const recipient = await connect(stack, max, "dm-e");
    recipient.send({ action: "history", with: zoe.normalize("NFD") });
    const page = await recipient.ofType("history");
    expect(page).toMatchObject({ with: zoe, more: false });
    expect(page.messages.map((message) => message.message)).toEqual([0, 1, 2].map((i) => `while you were out ${i}`));
    expect("channel" in page).toBe(false);
    await recipient.close();
  });

  it("count as chat messages in the user's rate, with the channel's messages", async () => {
    const [ivy, jon] = [fresh("Ivy"), fresh("Jon")];
    const client = await connect(stack, ivy, "dm-f");
    await roomInRateWindow();
    for (let i = 0; i < 15; i++) client.send(`chat ${i}`);
    for (let i = 0; i < 10; i++) client.send({ action: "dm", to: jon, message: `m${i}` });
    const answered = (f: ServerFrame) => f.type === "dm" || f.type === "message" || f.type === "error";
    await eventually(() => client.frames.filter(answered).length >= 25);
    expect(client.frames.filter((frame) => frame.type === "error")).toEqual(
      Array(5).fill({ type: "error", code: "rate_limited", message: "at most 20 messages per 10 seconds" }),
    );
    await client.close();
  });
});

describe("races with a removal and with a handshake", () => {
  const inProcess = () => {
    const doc = documentClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      dynamoEndpoint: stack.dynamoEndpoint,
    });
    const posted = new Map<string, ServerFrame[]>();
    const gone = new Set<string>();
    const deps: ChatDeps = {
      connections: new ConnectionStore(doc, stack.tables.connections),
      history: new HistoryStore(doc, stack.tables.history),
      presence: new PresenceStore(doc, stack.tables.presence),
      rates: new RateStore(doc, stack.tables.rates),
      members: new MemberStore(doc, stack.tables.members),
      poster: {
        async post(connectionId, data) {
          if (gone.has(connectionId)) return { status: "gone" };
          posted.set(connectionId, [...(posted.get(connectionId) ?? []), JSON.parse(new TextDecoder().decode(data))]);
          return { status: "delivered" };
        },
        async close(connectionId) {
          gone.add(connectionId);
          return { status: "delivered" };
        },
      },
    };
    return { doc, deps, posted, gone };
  };

  it("never lets a member removed during its handshake in, nor deliver the channel to it", async () => {
    const { doc, deps, posted } = inProcess();
    try {
      const channel = privateChannel();
      const ann = { connectionId: `${channel}-ann`, username: fresh("Ann"), channel };
      const eve = { connectionId: `${channel}-eve`, username: fresh("Eve"), channel };
      expect(await admit(deps, ann)).toBe("admitted");
      await join(deps, ann);
      await handleFrame(deps, ann, JSON.stringify({ action: "invite", user: eve.username }));
      // Eve's handshake passes admit; the owner removes her before her $connect stores her.
      expect(await admit(deps, eve)).toBe("admitted");
      await handleFrame(deps, ann, JSON.stringify({ action: "remove", user: eve.username }));
      await expect(join(deps, eve)).rejects.toThrow(NoLongerMemberError);
      await leave(deps, eve); // what $connect does before answering 403
      await handleFrame(deps, ann, "secret plan");
      expect(posted.get(eve.connectionId) ?? []).toEqual([]);
      expect(await deps.rates.connectionsOf(eve.username)).toEqual({});
    } finally {
      doc.destroy();
    }
  });

  it("takes a removed member out at once, even when closing its connection fails", async () => {
    const { doc, deps, posted } = inProcess();
    deps.poster.close = async () => ({ status: "failed", error: new Error("throttled") });
    try {
      const channel = privateChannel();
      const ann = { connectionId: `${channel}-ann`, username: fresh("Ann"), channel };
      const eve = { connectionId: `${channel}-eve`, username: fresh("Eve"), channel };
      await admit(deps, ann);
      await join(deps, ann);
      await handleFrame(deps, ann, JSON.stringify({ action: "invite", user: eve.username }));
      await admit(deps, eve);
      await join(deps, eve);
      await handleFrame(deps, ann, JSON.stringify({ action: "remove", user: eve.username }));
      await handleFrame(deps, ann, "secret plan");
      expect((posted.get(eve.connectionId) ?? []).map((frame) => frame.type)).not.toContain("message");
      // Anything it still sends is refused, and it is told so before the server closes it.
      await handleFrame(deps, eve, "still here?");
      expect(posted.get(eve.connectionId)?.at(-1)).toMatchObject({ type: "error", code: "forbidden" });
    } finally {
      doc.destroy();
    }
  });

  it("does not take a 410 from a recipient still in its $connect as gone", async () => {
    const { doc, deps, gone } = inProcess();
    try {
      const lucy = { connectionId: `${fresh("c")}-lucy`, username: fresh("Lucy"), channel: "race" };
      const bob = { connectionId: `${fresh("c")}-bob`, username: fresh("Bob"), channel: "race" };
      await admit(deps, lucy);
      await join(deps, lucy);
      // Bob's handshake holds its connection; its $connect has not returned, so posts to it answer 410.
      await admit(deps, bob);
      gone.add(bob.connectionId);
      await handleFrame(deps, lucy, JSON.stringify({ action: "dm", to: bob.username, message: "early" }));
      expect(Object.keys((await deps.rates.connectionsOf(bob.username)) ?? {})).toEqual([bob.connectionId]);
    } finally {
      doc.destroy();
    }
  });
});

describe("nobody reads what is not theirs", () => {
  it("answers history {with} from the asker's own conversations only, whatever was sent among whom", async () => {
    const doc = documentClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      dynamoEndpoint: stack.dynamoEndpoint,
    });
    const posted = new Map<string, ServerFrame[]>();
    const deps: ChatDeps = {
      connections: new ConnectionStore(doc, stack.tables.connections),
      history: new HistoryStore(doc, stack.tables.history),
      presence: new PresenceStore(doc, stack.tables.presence),
      rates: new RateStore(doc, stack.tables.rates),
      members: new MemberStore(doc, stack.tables.members),
      poster: {
        async post(connectionId, data) {
          posted.set(connectionId, [...(posted.get(connectionId) ?? []), JSON.parse(new TextDecoder().decode(data))]);
          return { status: "delivered" };
        },
      },
    };
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ from: fc.nat(3), to: fc.nat(3) }), { maxLength: 12 }),
          fc.nat(3),
          fc.nat(3),
          async (sends, asker, peer) => {
            const users = [0, 1, 2, 3].map((i) => `P${++run}u${i}`);
            const who = (i: number) => ({
              connectionId: `${users[i]}-c`,
              username: users[i] as string,
              channel: "prop",
            });
            const kept: { from: string; to: string; message: string }[] = [];
            for (const [i, { from, to }] of sends.entries()) {
              await handleFrame(deps, who(from), JSON.stringify({ action: "dm", to: users[to], message: `m${i}` }));
              if (from !== to) kept.push({ from: users[from] as string, to: users[to] as string, message: `m${i}` });
            }
            const { answer: reply } = await handleFrame(
              deps,
              who(asker),
              JSON.stringify({ action: "history", with: users[peer] }),
            );
            const answer = JSON.parse(reply) as unknown;
            const pair = new Set([users[asker], users[peer]]);
            const theirs = asker === peer ? [] : kept.filter((m) => pair.has(m.from) && pair.has(m.to));
            expect(answer).toMatchObject({ type: "history", with: users[peer], more: false });
            expect((answer as { messages: { message: string }[] }).messages.map((m) => m.message)).toEqual(
              theirs.map((m) => m.message),
            );
          },
        ),
        { numRuns: 15 },
      );
    } finally {
      doc.destroy();
    }
  });
});
