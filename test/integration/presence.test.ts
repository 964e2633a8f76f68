import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleFrame, type Participant } from "../../lambda/core/chat.ts";
import { ConnectionStore } from "../../lambda/core/connection-store.ts";
import { HistoryStore } from "../../lambda/core/history-store.ts";
import { limits } from "../../lambda/core/limits.ts";
import { MemberStore } from "../../lambda/core/member-store.ts";
import { compareCodePoints } from "../../lambda/core/names.ts";
import { PresenceStore } from "../../lambda/core/presence-store.ts";
import { RateStore } from "../../lambda/core/rate-store.ts";
import type { ServerFrame } from "../../lambda/core/server-frames.ts";
import { presenceTable } from "../../lambda/core/tables.ts";
import { documentClient } from "../../lambda/runtime/aws-clients.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws.ts";
import type { LocalStack } from "../../local/local-stack.ts";
import { recordingLogger } from "../fixtures.ts";
import { type ChatClient, connect, eventually, startTestStack, storedConnections } from "./harness.ts";

// Presence by user (PROTOCOL v2 §3, §4 `who`) on the local stack: one notice per user's transition, whatever the
// connections of that user do at once; none beyond the presence limit; `who` from the presence table.
//
// "No notice" is asserted without sampling time: a handler logs "joined"/"left" once all its posts are answered,
// and then a ping's pong, posted later to the same socket, arrives after any notice that handler posted.

const logger = recordingLogger();
const limitedLogger = recordingLogger();
let stack: LocalStack;
let limited: LocalStack;
const clients: ChatClient[] = [];
let channels = 0;
const newChannel = () => `presence-${++channels}`;

beforeAll(async () => {
  [stack, limited] = await Promise.all([
    startTestStack({ logger }),
    startTestStack({ logger: limitedLogger, presenceLimit: 3 }),
  ]);
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await Promise.all([stack.close(), limited.close()]);
});

const loggerOf = (on: LocalStack) => (on === limited ? limitedLogger : logger);

/** How many times a route handler logged `message` ("joined", "left") for a user in a channel. */
const logged = (on: LocalStack, message: string, username: string, channel: string) =>
  loggerOf(on).lines.filter((line) => {
    const who = line.extra[0] as { username?: string; channel?: string } | undefined;
    return line.message === message && who?.username === username && who.channel === channel;
  }).length;

/** Waits until `times` handlers in all logged `message` for the user in the channel: their posts are all answered. */
const handled = (on: LocalStack, message: string, username: string, channel: string, times = 1) =>
  eventually(() => logged(on, message, username, channel) >= times);

/** How many frames of this connection `$default` handled (logged once every post of it is answered). */
const framesHandled = (on: LocalStack, connectionId: string) =>
  loggerOf(on).lines.filter(
    (line) =>
      line.message === "frame handled" &&
      (line.extra[0] as { connectionId?: string } | undefined)?.connectionId === connectionId,
  ).length;

/** Connects and waits until `$connect` has announced (or not). */
async function join(on: LocalStack, username: string, channel: string): Promise<ChatClient> {
  const before = logged(on, "joined", username, channel);
  const client = await connect(on, username, channel);
  clients.push(client);
  await handled(on, "joined", username, channel, before + 1);
  return client;
}

/** Closes and waits until `$disconnect` has announced (or not). */
async function leave(on: LocalStack, client: ChatClient, username: string, channel: string): Promise<void> {
  const before = logged(on, "left", username, channel);
  await client.close();
  await handled(on, "left", username, channel, before + 1);
}

/** Every frame posted to `client` before now is in `client.frames` once this returns. */
async function settle(client: ChatClient): Promise<void> {
  client.send({ action: "ping" });
  await client.ofType("pong");
}

/** The system notices `client` received with this text, not taken. */
const notices = (client: ChatClient, message: string) =>
  client.frames.filter((frame) => frame.type === "system" && frame.message === message).length;

async function who(client: ChatClient): Promise<Extract<ServerFrame, { type: "presence" }>> {
  client.send({ action: "who" });
  return client.ofType("presence");
}

const presenceStore = (on: LocalStack) => new PresenceStore(on.documentClient, on.tables.presence);
const expiresAt = () => Math.floor(Date.now() / 1000) + limits.connectionTtlSeconds;
const connectionIdOf = async (on: LocalStack, username: string, channel: string) =>
  (await storedConnections(on)).find((record) => record.username === username && record.channel === channel)
    ?.connectionId as string;

describe("presence by user (issue 12, item 1)", () => {
  it("announces a user once for two tabs, nothing when one closes, and once when the last closes", async () => {
    const channel = newChannel();
    const carol = await join(stack, "Carol", channel);
    const tab1 = await join(stack, "Lucy", channel);
    const tab2 = await join(stack, "Lucy", channel);
    await settle(carol);
    expect(notices(carol, "Lucy connected")).toBe(1);
    expect(await who(carol)).toMatchObject({ users: ["Carol", "Lucy"], count: 2 });

    await leave(stack, tab1, "Lucy", channel);
    await settle(carol);
    expect(notices(carol, "Lucy disconnected")).toBe(0);
    expect(await who(carol)).toMatchObject({ users: ["Carol", "Lucy"], count: 2 });

    await leave(stack, tab2, "Lucy", channel);
    await settle(carol);
    expect(notices(carol, "Lucy disconnected")).toBe(1);
    expect(notices(carol, "Lucy connected")).toBe(1);
    expect(await who(carol)).toMatchObject({ users: ["Carol"], count: 1 });
  });

  it("announces once when two connections of a user join at the same moment, and once when both leave", async () => {
    const channel = newChannel();
    const carol = await join(stack, "Cara", channel);
    for (let round = 1; round <= 3; round++) {
      const tabs = await Promise.all([join(stack, "Lucy", channel), join(stack, "Lucy", channel)]);
      await handled(stack, "joined", "Lucy", channel, 2 * round);
      await settle(carol);
      expect(notices(carol, "Lucy connected"), `round ${round}`).toBe(round);

      await Promise.all(tabs.map((tab) => tab.close()));
      await handled(stack, "left", "Lucy", channel, 2 * round);
      await settle(carol);
      expect(notices(carol, "Lucy disconnected"), `round ${round}`).toBe(round);
    }
    expect(await who(carol)).toMatchObject({ users: ["Cara"], count: 1 });
  });

  it("makes a connection found gone by a 410 leave, with one notice only when it was its user's last", async () => {
    const channel = newChannel();
    const carol = await join(stack, "Cathy", channel);
    const dora = await join(stack, "Dora", channel);
    const doraId = await connectionIdOf(stack, "Dora", channel);
    // Records whose $disconnect was lost: API Gateway answers 410 for them. Connected long enough ago that a 410
    // means gone, not "still connecting".
    const connectedAt = Date.now() - 10 * limits.connectGraceMs;
    const presence = presenceStore(stack);
    for (const [connectionId, username] of [
      ["GhostConnId=", "Ghost"],
      ["DoraStale00=", "Dora"],
    ] as const) {
      await stack.documentClient.send(
        new PutCommand({
          TableName: stack.tables.connections,
          Item: { connectionId, channel, username, connectedAt, expiresAt: expiresAt() },
        }),
      );
      await presence.arrive(channel, username, connectionId, expiresAt());
    }
    expect(await who(carol)).toMatchObject({ users: ["Cathy", "Dora", "Ghost"], count: 3 });

    dora.send("hello");
    await carol.next((frame) => frame.type === "message" && frame.message === "hello");
    // The members found gone depart, with their notices, before the frame's handler returns.
    await eventually(() => framesHandled(stack, doraId) === 1);
    await eventually(async () =>
      (await storedConnections(stack)).every((r) => r.channel !== channel || r.username !== "Ghost"),
    );
    await eventually(async () => (await presence.list(channel)).users.length === 2);
    await settle(carol);
    await settle(dora);
    expect(notices(carol, "Ghost disconnected")).toBe(1);
    expect(notices(dora, "Ghost disconnected")).toBe(1);
    expect(notices(carol, "Dora disconnected")).toBe(0);
    expect(await who(carol)).toMatchObject({ users: ["Cathy", "Dora"], count: 2 });
    expect((await storedConnections(stack)).map((r) => r.connectionId)).not.toContain("DoraStale00=");

    // Its $disconnect, arriving late, changes nothing more.
    dora.send("again");
    await carol.next((frame) => frame.type === "message" && frame.message === "again");
    await eventually(() => framesHandled(stack, doraId) === 2);
    await settle(carol);
    expect(notices(carol, "Ghost disconnected")).toBe(1);
  });

  it("takes Zoë typed with a combining diaeresis and with a precomposed ë for one user", async () => {
    const channel = newChannel();
    const carol = await join(stack, "Cleo", channel);
    const nfc = "Zo\u00eb";
    const nfd = "Zoe\u0308";
    const composed = await join(stack, nfc, channel);
    const decomposed = await connect(stack, nfd, channel);
    clients.push(decomposed);
    await handled(stack, "joined", nfc, channel, 2);
    await settle(carol);
    expect(notices(carol, `${nfc} connected`)).toBe(1);
    expect(notices(carol, `${nfd} connected`)).toBe(0);
    expect(await who(carol)).toMatchObject({ users: ["Cleo", nfc], count: 2 });

    await leave(stack, composed, nfc, channel);
    await leave(stack, decomposed, nfc, channel);
    await settle(carol);
    expect(notices(carol, `${nfc} disconnected`)).toBe(1);
  });
});

describe("notices that do not grow with N² (issue 12, item 2)", () => {
  it("sends notices only while the channel has at most presenceLimit users, and who still counts them all", async () => {
    const channel = newChannel();
    const u1 = await join(limited, "U1", channel);
    const u2 = await join(limited, "U2", channel);
    await join(limited, "U3", channel);
    await settle(u1);
    expect(notices(u1, "U2 connected")).toBe(1);
    expect(notices(u1, "U3 connected")).toBe(1);

    const u4 = await join(limited, "U4", channel);
    await settle(u1);
    expect(notices(u1, "U4 connected")).toBe(0);
    expect(await who(u1)).toEqual({ type: "presence", channel, users: ["U1", "U2", "U3", "U4"], count: 4 });

    // Four users before it: no notice. Three before the next: a notice again.
    await leave(limited, u2, "U2", channel);
    await settle(u1);
    expect(notices(u1, "U2 disconnected")).toBe(0);
    await leave(limited, u4, "U4", channel);
    await settle(u1);
    expect(notices(u1, "U4 disconnected")).toBe(1);
    expect(await who(u1)).toMatchObject({ users: ["U1", "U3"], count: 2 });
  });

  it("still announces in a small channel whose kept count ran over the limit (lost $disconnects), and who counts its users", async () => {
    const channel = newChannel();
    const u1 = await join(limited, "U1", channel);
    await join(limited, "U2", channel);
    // Five users who left without a $disconnect, their presence items since deleted by TTL: counted for good.
    await limited.documentClient.send(
      new UpdateCommand({
        TableName: limited.tables.presence,
        Key: { channel, user: presenceTable.countKey },
        UpdateExpression: "ADD #count :drift",
        ExpressionAttributeNames: { "#count": "count" },
        ExpressionAttributeValues: { ":drift": 5 },
      }),
    );
    const u3 = await join(limited, "U3", channel);
    await settle(u1);
    expect(notices(u1, "U3 connected")).toBe(1);
    // Set right by that arrival's check.
    expect(await presenceStore(limited).count(channel)).toBe(3);
    expect(await who(u1)).toEqual({ type: "presence", channel, users: ["U1", "U2", "U3"], count: 3 });
    await leave(limited, u3, "U3", channel);
    await settle(u1);
    expect(notices(u1, "U3 disconnected")).toBe(1);
    // A fourth user is over the limit by the users' items too: no notice.
    await join(limited, "U3", channel);
    await join(limited, "U4", channel);
    await settle(u1);
    expect(notices(u1, "U4 connected")).toBe(0);
  });

  it("lists the first 100 of 150 users by code point, counts 150, and reads no connections index", async () => {
    const channel = newChannel();
    // Fullwidth Ａ (U+FF21) sorts before 𝐀 (U+1D400) by code point, after it by UTF-16 code unit.
    const names = [
      ...Array.from({ length: 29 }, (_, i) => `z${i}`),
      ...Array.from({ length: 60 }, (_, i) => `\uff21${i}`),
      ...Array.from({ length: 60 }, (_, i) => `\u{1d400}${i}`),
    ];
    const presence = presenceStore(stack);
    for (let i = 0; i < names.length; i += 25) {
      await Promise.all(
        names.slice(i, i + 25).map((name, j) => presence.arrive(channel, name, `c${i + j}`, expiresAt())),
      );
    }
    const viewer = await join(stack, "Viewer", channel);
    const expected = ["Viewer", ...names].sort(compareCodePoints).slice(0, 100);
    expect(expected).not.toEqual(["Viewer", ...names].sort().slice(0, 100));
    const answer = await who(viewer);
    expect(answer).toEqual({ type: "presence", channel, users: expected, count: 150 });

    // The same frame through the chat core with a spy on every DynamoDB request: none reads the connections table.
    const doc = documentClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      dynamoEndpoint: stack.dynamoEndpoint,
    });
    const requests: { table?: string; index?: string }[] = [];
    doc.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { TableName?: string; IndexName?: string };
        requests.push({ table: input.TableName, index: input.IndexName });
        return next(args);
      },
      { step: "initialize", name: "requestSpy" },
    );
    const posted: unknown[] = [];
    const deps = {
      connections: new ConnectionStore(doc, stack.tables.connections),
      history: new HistoryStore(doc, stack.tables.history),
      presence: new PresenceStore(doc, stack.tables.presence),
      rates: new RateStore(doc, stack.tables.rates),
      members: new MemberStore(doc, stack.tables.members),
      poster: {
        post: async (_connectionId: string, data: Uint8Array) => {
          posted.push(JSON.parse(new TextDecoder().decode(data)));
          return { status: "delivered" as const };
        },
      },
    };
    const viewerId = await connectionIdOf(stack, "Viewer", channel);
    const participant: Participant = { connectionId: viewerId, username: "Viewer", channel };
    const outcome = await handleFrame(deps, participant, '{"action":"who"}');
    expect(JSON.parse(outcome.answer)).toEqual(answer);
    expect(posted).toEqual([]);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((request) => request.table === stack.tables.connections)).toEqual([]);
  });
});

describe("no ghosts (issue 12, item 4)", () => {
  it("never stores again a sender whose $disconnect removed it while its frame was handled", async () => {
    const channel = newChannel();
    const carol = await join(stack, "Cora", channel);
    const lucy = await join(stack, "Lena", channel);
    const lucyId = await connectionIdOf(stack, "Lena", channel);
    const key = { channel, user: "Lena" };
    const presenceItem = async () =>
      (await stack.documentClient.send(new GetCommand({ TableName: stack.tables.presence, Key: key }))).Item;
    const before = await presenceItem();
    expect(before?.connections).toEqual(new Set([lucyId]));

    // $disconnect's first step, done: the record is gone while the connection still sends a frame.
    await stack.documentClient.send(
      new DeleteCommand({ TableName: stack.tables.connections, Key: { connectionId: lucyId } }),
    );
    lucy.send("still here");
    expect(await lucy.ofType("message")).toMatchObject({ from: "Lena", message: "still here" });
    expect(await carol.ofType("message")).toMatchObject({ from: "Lena", message: "still here" });
    await eventually(() => framesHandled(stack, lucyId) === 1);
    expect((await storedConnections(stack)).map((record) => record.connectionId)).not.toContain(lucyId);
    expect(await presenceItem()).toEqual(before);

    // The rest of $disconnect: Lucy leaves once, and nothing of her stays.
    await leave(stack, lucy, "Lena", channel);
    await settle(carol);
    expect(notices(carol, "Lena disconnected")).toBe(1);
    expect(await presenceItem()).toBeUndefined();
    expect(await who(carol)).toMatchObject({ users: ["Cora"], count: 1 });
  });
});
