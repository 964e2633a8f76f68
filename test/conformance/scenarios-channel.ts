import { randomBytes } from "node:crypto";
import type { MessageFrame, ServerFrame, SystemFrame } from "../../lambda/core/server-frames.ts";
import { ConformanceError, show } from "./conformance-error.ts";
import { check, equal, receivedNone, refused, roundTrip } from "./expect.ts";
import type { Scenario } from "./scenario.ts";

const isSystem = (message: string) => (frame: ServerFrame) => frame.type === "system" && frame.message === message;
const isMessage = (text: string) => (frame: ServerFrame) => frame.type === "message" && frame.message === text;
const unique = (what: string) => `${what} ${randomBytes(4).toString("hex")}`;

/** PROTOCOL §4: keep-alive. */
export const ping: Scenario = {
  name: "A ping is answered with a pong",
  needsGuestSession: true,
  async run(context) {
    const socket = await context.join(context.username("Lucy"), context.channel("ping"));
    socket.send({ action: "ping" });
    await socket.nextOfType("pong");
  },
};

/** PROTOCOL §3: the page's handshake, token offered as a subprotocol. */
export const subprotocol: Scenario = {
  name: "A handshake offering chat.v1 and the token is accepted and answered with chat.v1",
  needsGuestSession: true,
  async run(context) {
    const username = context.username("Lucy");
    const result = await context.handshake({ channel: context.channel("subprotocol") }, [
      "chat.v1",
      await context.token(username),
    ]);
    if (!result.ok) throw new ConformanceError("refused", "the handshake accepted", `HTTP ${result.status}`);
    equal(result.protocol, "chat.v1", "the subprotocol the server chose (Sec-WebSocket-Protocol)");
    await roundTrip(result.socket);
    refused(await context.handshake({ channel: context.channel("subprotocol") }, ["chat.v1"]), [401], "no token");
  },
};

/** PROTOCOL §3: join and leave notices go to the others, never to the joiner. */
export const joinAndLeave: Scenario = {
  name: "Joining and leaving are announced to the others and not to the joiner",
  needsGuestSession: true,
  async run(context) {
    const channel = context.channel("room");
    const [lucyName, bobName] = [context.username("Lucy"), context.username("Bob")];
    const lucy = await context.join(lucyName, channel);
    const bob = await context.join(bobName, channel);
    const joined = await lucy.next<SystemFrame>(isSystem(`${bobName} connected`), `"${bobName} connected"`);
    equal(
      { from: joined.from, channel: joined.channel },
      { from: "<server>", channel },
      "the notice's sender and channel",
    );
    await roundTrip(bob);
    receivedNone(bob, (frame) => frame.type === "system", "a notice of its own join (or of earlier members)");
    await bob.close();
    await lucy.next(isSystem(`${bobName} disconnected`), `"${bobName} disconnected"`);
    await roundTrip(lucy);
    receivedNone(
      lucy,
      (frame) => frame.type === "system" && frame.message.startsWith(lucyName),
      "notices about itself",
    );
  },
};

/** PROTOCOL §5: a chat message reaches the whole channel, the sender included, and no other channel. */
export const broadcast: Scenario = {
  name: "A chat message reaches every member, the sender included, and no other channel",
  needsGuestSession: true,
  async run(context) {
    const [room, other] = [context.channel("room"), context.channel("other")];
    const lucy = await context.join(context.username("Lucy"), room);
    const bob = await context.join(context.username("Bob"), room);
    const carol = await context.join(context.username("Carol"), other);
    const text = unique("hello");
    lucy.send({ action: "send", message: text });
    const [own, delivered] = await Promise.all([lucy.next(isMessage(text), text), bob.next(isMessage(text), text)]);
    const expected = { type: "message", from: lucy.label, message: text, channel: room };
    const { id, timestamp, ...rest } = delivered as MessageFrame;
    equal(rest, expected, "the message frame Bob got");
    check(
      typeof id === "string" && id.length > 0 && Number.isFinite(timestamp),
      "no id or timestamp",
      "both",
      delivered,
    );
    equal(own, delivered, "the sender's copy and Bob's");
    const aside = unique("elsewhere");
    carol.send({ action: "send", message: aside });
    await carol.next(isMessage(aside), aside);
    await Promise.all([roundTrip(lucy), roundTrip(bob), roundTrip(carol)]);
    receivedNone(carol, (frame) => "channel" in frame && frame.channel !== other, "frames of another channel");
    for (const socket of [lucy, bob]) {
      receivedNone(socket, (frame) => "channel" in frame && frame.channel !== room, "frames of another channel");
    }
  },
};

/** PROTOCOL §4: text that is not a JSON object with an `action` is a chat message (the seed's `send("hello")`). */
export const plainText: Scenario = {
  name: "A plain-text frame, or JSON without an action, is a chat message with that text",
  needsGuestSession: true,
  async run(context) {
    const room = context.channel("room");
    const lucy = await context.join(context.username("Lucy"), room);
    const bob = await context.join(context.username("Bob"), room);
    for (const text of [unique("plain"), JSON.stringify({ message: unique("json") }), unique('"quoted" [1, 2]')]) {
      lucy.send(text);
      await Promise.all([lucy.next(isMessage(text), show(text)), bob.next(isMessage(text), show(text))]);
    }
  },
};

/** PROTOCOL §4: `who` lists users unique and sorted by code point, with `count` (v2). */
export const presence: Scenario = {
  name: "who lists the channel's users unique and sorted by code point, with their count",
  needsGuestSession: true,
  async run(context) {
    const room = context.channel("room");
    // Upper case sorts before lower case by code point (not by locale); one user has two connections.
    const names = ["b", "a", "a", "B"].map((role) => context.username(role));
    const sockets = [];
    for (const name of names) sockets.push(await context.join(name, room));
    const asker = sockets[3];
    if (!asker) throw new Error("unreachable");
    const expected = [...new Set(names)].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    // The channel index is eventually consistent on AWS: a member that joined a moment ago may be missing at first.
    const deadline = Date.now() + context.timeoutMs;
    let answer: { users?: unknown; count?: unknown } = {};
    do {
      asker.send({ action: "who" });
      answer = await asker.nextOfType("presence");
      check((answer as { channel?: unknown }).channel === room, "presence of another channel", room, answer);
      if (JSON.stringify(answer.users) === JSON.stringify(expected)) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    } while (Date.now() < deadline);
    equal(answer.users, expected, "the users of who (unique, sorted by code point)");
    equal(answer.count, expected.length, "count (v2): every user of the channel");
  },
};
