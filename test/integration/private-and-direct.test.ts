import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChatDeps, handleFrame } from "../../lambda/core/chat.ts";
import { ConnectionStore } from "../../lambda/core/connection-store.ts";
import { HistoryStore } from "../../lambda/core/history-store.ts";
import { MemberStore } from "../../lambda/core/member-store.ts";
import { PresenceStore } from "../../lambda/core/presence-store.ts";
import { RateStore } from "../../lambda/core/rate-store.ts";
import type { ServerFrame } from "../../lambda/core/server-frames.ts";
import { documentClient } from "../../lambda/runtime/aws-clients.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws.ts";
import type { LocalStack } from "../../local/local-stack.ts";
import { type ChatClient, connect, eventually, startTestStack } from "./harness.ts";

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

  it("cost chat messages from the user's rate", async () => {
    const [ivy, jon] = [fresh("Ivy"), fresh("Jon")];
    const client = await connect(stack, ivy, "dm-f");
    for (let i = 0; i < 25; i++) client.send({ action: "dm", to: jon, message: `m${i}` });
    await eventually(() => client.frames.filter((f) => f.type === "dm" || f.type === "error").length >= 25);
    const limited = client.frames.filter((frame) => frame.type === "error" && frame.code === "rate_limited");
    // Within one window exactly 5 are refused; across a window's edge fewer.
    expect(limited.length).toBeLessThanOrEqual(5);
    expect(client.frames.filter((frame) => frame.type === "dm").length).toBe(25 - limited.length);
    await client.close();
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
            posted.clear();
            await handleFrame(deps, who(asker), JSON.stringify({ action: "history", with: users[peer] }));
            const [answer] = posted.get(who(asker).connectionId) ?? [];
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
