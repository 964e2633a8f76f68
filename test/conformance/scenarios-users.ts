import type { ServerFrame } from "../../lambda/core/server-frames.ts";
import type { ChatSocket } from "./client.ts";
import { check, equal, receivedNone, refused, roundTrip } from "./expect.ts";
import type { Scenario } from "./scenario.ts";
import { startOfRateWindow } from "./scenarios-limits.ts";

const RATE_MAX_MESSAGES = 20;
const CONNECTIONS_PER_USER = 10;
const REFUSALS_BEFORE_CLOSE = 100;

const isError = (code: string) => (frame: ServerFrame) => frame.type === "error" && frame.code === code;
const systemSaying = (text: string) => (frame: ServerFrame) => frame.type === "system" && frame.message === text;

/** PROTOCOL "Names and limits" (v2): the rate is the user's, across all of their connections. */
export const rateByUser: Scenario = {
  name: "Two connections of one user share 20 chat messages per 10-second window",
  needsGuestSession: true,
  async run(context) {
    const lucy = context.username("Lucy");
    const [tab1, tab2] = [
      await context.join(lucy, context.channel("one")),
      await context.join(lucy, context.channel("two")),
    ];
    await startOfRateWindow(tab1);
    for (let i = 0; i < 11; i++) {
      tab1.send(`one ${i}`);
      tab2.send(`two ${i}`);
    }
    const answers: ServerFrame[] = [];
    for (const tab of [tab1, tab2]) {
      answers.push(...(await tab.collect((f) => f.type === "message" || f.type === "error", 11, "an answer")));
    }
    equal(answers.filter((frame) => frame.type === "message").length, RATE_MAX_MESSAGES, "messages delivered of 22");
    equal(answers.filter(isError("rate_limited")).length, 2, "rate_limited answers to 22 messages of one user");
  },
};

/** PROTOCOL "Names and limits" (v2): at most 10 live connections per user. */
export const connectionsByUser: Scenario = {
  name: "A user's 11th live connection is refused with 429, and another user is not",
  needsGuestSession: true,
  async run(context) {
    const ann = context.username("Ann");
    const room = context.channel("tabs");
    const tabs: ChatSocket[] = [];
    for (let i = 0; i < CONNECTIONS_PER_USER; i++) tabs.push(await context.join(ann, room));
    refused(await context.handshake({ channel: room, token: await context.token(ann) }), [429], "the 11th connection");
    await context.join(context.username("Ben"), room);
    await tabs[0]?.close();
    // The closed one's $disconnect lets its slot go: the next handshake may have to wait for it.
    for (let attempt = 0; ; attempt++) {
      const again = await context.handshake({ channel: room, token: await context.token(ann) });
      if (again.ok) break;
      check(attempt < 20, "a slot was not given back after a connection closed", "101 within 10 s", again.status);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  },
};

/**
 * PROTOCOL "Names and limits" (v2): a connection that gets 100 `rate_limited` within a minute is closed; this
 * deployment also keeps its place among the user's 10 for a minute (docs/protocol.md), so a client that reconnects at
 * once does not start over.
 */
export const floodingConnectionClosed: Scenario = {
  name: "A connection ignoring 100 rate_limited answers is closed, and its place stays taken",
  needsGuestSession: true,
  async run(context) {
    const mallory = context.username("Mallory");
    const room = context.channel("flood");
    const tabs: ChatSocket[] = [];
    for (let i = 0; i < CONNECTIONS_PER_USER; i++) tabs.push(await context.join(mallory, room));
    const [flooder, other] = tabs as [ChatSocket, ChatSocket];
    // Enough for the 100th refusal of a minute even when a minute's edge passes during the burst.
    for (let i = 0; i < 2 * (RATE_MAX_MESSAGES + REFUSALS_BEFORE_CLOSE) + 30; i++) flooder.send(`flood ${i}`);
    await flooder.waitClosed("the flooding connection to be closed by the server");
    // Long past the close's $disconnect, the place is still taken: the user has nine connections and gets no tenth.
    for (let attempt = 0; attempt < 6; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const again = await context.handshake({ channel: room, token: await context.token(mallory) });
      refused(again, [429], `a new connection ${attempt + 1} s after the close`);
    }
    await roundTrip(other);
  },
};

/** PROTOCOL §7 (v2): private channels. */
export const privateChannel: Scenario = {
  name: "A private channel admits its first user and those the owner invites; a removed member is closed and refused",
  needsGuestSession: true,
  async run(context) {
    const channel = `private-${context.channel("team")}`.slice(0, 64);
    const [ann, bob] = [context.username("Ann"), context.username("Bob")];
    const owner = await context.join(ann, channel);
    const bobToken = await context.token(bob);
    refused(await context.handshake({ channel, token: bobToken }), [403], "a stranger's handshake");
    owner.send({ action: "invite", user: bob });
    await owner.next(systemSaying(`${ann} added ${bob}`), `"${ann} added ${bob}"`);
    const member = await context.join(bob, channel);
    member.send({ action: "invite", user: context.username("Carl") });
    await member.next(isError("forbidden"), "forbidden for a member's invite");
    member.send("hello team");
    await owner.next((frame) => frame.type === "message" && frame.message === "hello team", "the member's message");
    owner.send({ action: "remove", user: bob });
    await member.waitClosed("the removed member's connection to close");
    await owner.next(systemSaying(`${ann} removed ${bob}`), `"${ann} removed ${bob}"`);
    refused(await context.handshake({ channel, token: bobToken }), [403], "a removed member's handshake");
  },
};

/** PROTOCOL §7 (v2): direct messages. */
export const directMessages: Scenario = {
  name: "A direct message reaches every connection of both users in any channel, no one else, and is kept",
  needsGuestSession: true,
  async run(context) {
    const [lucy, bob, carl] = [context.username("Lucy"), context.username("Bob"), context.username("Carl")];
    const lucyOne = await context.join(lucy, context.channel("a"));
    const lucyTwo = await context.join(lucy, context.channel("b"));
    const bobs = await context.join(bob, context.channel("c"));
    const carls = await context.join(carl, context.channel("a"));
    lucyOne.send({ action: "dm", to: bob, message: "psst" });
    const isDm = (frame: ServerFrame) => frame.type === "dm" && frame.message === "psst";
    for (const socket of [bobs, lucyOne, lucyTwo]) {
      const dm = await socket.next(isDm, "the direct message");
      check(dm.type === "dm" && dm.from === lucy && dm.to === bob, "a dm's from and to", `${lucy} → ${bob}`, dm);
    }
    await roundTrip(carls);
    receivedNone(carls, (frame) => frame.type === "dm", "a direct message between others");
    lucyOne.send({ action: "dm", to: lucy, message: "to myself" });
    await lucyOne.next(isError("forbidden"), "forbidden for a dm to oneself");
    bobs.send({ action: "history", with: lucy });
    const page = await bobs.nextOfType("history");
    check(
      page.with === lucy && page.messages.some((message) => message.type === "dm" && message.message === "psst"),
      "the conversation's history",
      `a page with ${lucy} holding "psst"`,
      page,
    );
    carls.send({ action: "history", with: lucy });
    const strangers = await carls.nextOfType("history");
    equal(strangers.messages, [], `${carl}'s conversation with ${lucy} (another pair's messages)`);
  },
};
