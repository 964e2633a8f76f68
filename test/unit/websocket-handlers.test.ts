import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { historyKey } from "../../lambda/core/history-keys.ts";
import { compareCodePoints } from "../../lambda/core/names.ts";
import { RateStore } from "../../lambda/core/rate-store.ts";
import { ReplyTooLargeError } from "../../lambda/core/reply-size.ts";
import { createConnectHandler } from "../../lambda/handlers/connect.ts";
import { createDisconnectHandler } from "../../lambda/handlers/disconnect.ts";
import { createMessageHandler } from "../../lambda/handlers/message.ts";
import type { WebSocketHandlerDeps } from "../../lambda/handlers/websocket-deps.ts";
import {
  bob,
  CONNECTIONS_TABLE,
  decodeData,
  goneError,
  HISTORY_TABLE,
  lucy,
  MEMBERS_TABLE,
  NOW,
  PRESENCE_TABLE,
  RATES_TABLE,
  testChatDeps,
  testDocumentClient,
  webSocketEvent,
} from "../fixtures.ts";

const ddb = mockClient(DynamoDBDocumentClient);
const api = mockClient(ApiGatewayManagementApiClient);
const carol = { connectionId: "CarolConnI0=", username: "Carol", channel: "support" };
const countKey = { channel: "support", user: "#count" };
const userKey = (user: string) => ({ channel: "support", user });
/** A presence update's answer when `others` of the user's connections are (still) in the channel. */
const stillThere = (...others: string[]) => ({
  Attributes: { connections: new Set(others), expiresAt: NOW / 1000 + 60 },
});
/** The presence items a read of the channel's users finds. */
const presentItems = (...users: string[]) => users.map((user) => ({ user }));
/** The updates of presence items, as [user, update expression]. */
const presenceUpdates = () =>
  ddb
    .commandCalls(UpdateCommand)
    .filter((call) => call.args[0].input.TableName === PRESENCE_TABLE)
    .map((call) => [call.args[0].input.Key?.user, call.args[0].input.UpdateExpression]);

let deps: WebSocketHandlerDeps & { logger: ReturnType<typeof testChatDeps>["logger"] };
const endpoints: string[] = [];
beforeEach(() => {
  const chat = testChatDeps();
  deps = {
    ...chat,
    managementEndpoint: "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
    posterFor: (endpoint) => {
      endpoints.push(endpoint);
      return chat.poster;
    },
  };
  ddb
    .on(QueryCommand, { IndexName: "byChannel" })
    .resolves({ Items: [lucy, bob, carol].map(({ connectionId, username }) => ({ connectionId, username })) });
  ddb.on(QueryCommand, { TableName: HISTORY_TABLE }).resolves({ Items: [] });
  ddb.on(PutCommand).resolves({});
  ddb.on(DeleteCommand).resolves({});
  // Presence: each arrival is the user's first and each departure their last, in a channel of three users.
  ddb.on(UpdateCommand, { TableName: PRESENCE_TABLE }).resolves({});
  ddb.on(UpdateCommand, { TableName: PRESENCE_TABLE, Key: countKey }).resolves({ Attributes: { count: 3 } });
  ddb.on(GetCommand, { TableName: PRESENCE_TABLE, Key: countKey }).resolves({ Item: { count: 3 } });
  ddb.on(QueryCommand, { TableName: PRESENCE_TABLE }).resolves({ Items: presentItems("Bob", "Carol", "Lucy") });
  // Rates: every take allowed, every refusal the first of its minute, every connection held and released.
  ddb.on(UpdateCommand, { TableName: RATES_TABLE }).resolves({ Attributes: { count: 1 } });
  api.on(PostToConnectionCommand).resolves({});
});
afterEach(() => {
  ddb.reset();
  api.reset();
  endpoints.length = 0;
  answers.length = 0;
});

/** Every rate's window found full: each take's conditional update fails. */
const everyWindowFull = () =>
  ddb
    .on(UpdateCommand, { TableName: RATES_TABLE, ConditionExpression: "attribute_not_exists(#count) OR #count < :max" })
    .rejects(new ConditionalCheckFailedException({ message: "failed", $metadata: {} }));
/** Lucy's item holds `places` (connection or `closed#` id → until, epoch seconds) and is full: her hold fails. */
const lucyFullOf = (places: Record<string, number>) => {
  ddb
    .on(UpdateCommand, { TableName: RATES_TABLE, Key: { key: "user#Lucy" } })
    .rejects(new ConditionalCheckFailedException({ message: "failed", $metadata: {} }));
  ddb.on(GetCommand, { TableName: RATES_TABLE }).resolves({ Item: { key: "user#Lucy", connections: places } });
};
/** `count` places kept for connections closed for flooding, the first expiring 30 s from now. */
const keptPlaces = (count: number) =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [`closed#tab${i}`, NOW / 1000 + 30 + i]));
/** `$connect` with a rate store of its own (one function instance's memory) on `clock`. */
const connectWithOwnRates = (clock: { now: number }) =>
  createConnectHandler({ ...deps, rates: new RateStore(testDocumentClient(), RATES_TABLE, { now: () => clock.now }) });
/** The update counting Lucy's refusals in the current minute, to be answered with the counts a test wants. */
const lucysRefusals = () =>
  ddb.on(UpdateCommand, {
    TableName: RATES_TABLE,
    Key: { key: `refused#${lucy.connectionId}#${Math.floor(NOW / 60_000)}` },
  });

/** Each `$default` result's body, by connection: its route response sends it to the sender after the invocation. */
const answers: [connectionId: string, body: string][] = [];
/** What each connection was sent, decoded: the posts, then Lucy's answers. */
const sent = () => {
  const frames: Record<string, unknown[]> = {};
  const add = (id: string, frame: unknown) => {
    frames[id] = [...(frames[id] ?? []), frame];
  };
  for (const call of api.commandCalls(PostToConnectionCommand)) {
    const { ConnectionId, Data } = call.args[0].input;
    add(ConnectionId ?? "", decodeData(Data));
  }
  for (const [id, body] of answers) add(id, JSON.parse(body));
  return frames;
};
/** What each connection was sent, once it is checked that Lucy's frames were all answered, none posted. */
const onlyAnswered = () => {
  expect(api).not.toHaveReceivedCommandWith(PostToConnectionCommand, { ConnectionId: lucy.connectionId });
  return sent();
};
/** A frame from `who` at `$default`; its answer is kept for {@link sent}. */
const handle = async (who: typeof lucy, body: string, binary = false) => {
  const result = await createMessageHandler(deps)(webSocketEvent("$default", who, body, binary));
  if (result.body !== undefined) answers.push([who.connectionId, result.body]);
  return result;
};
/** A frame from Lucy. */
const send = (body: string, binary = false) => handle(lucy, body, binary);
/** The result of a frame answered with `frame`, as the route response sends it. */
const answered = (statusCode: number, frame: unknown = expect.anything()) =>
  expect.toSatisfy((result: { statusCode: number; body?: string }) => {
    try {
      expect({ statusCode: result.statusCode, frame: JSON.parse(result.body ?? "") }).toEqual({ statusCode, frame });
      return true;
    } catch {
      return false;
    }
  });

describe("$connect", () => {
  it("holds the connection in its user's item, at most 10, before storing it", async () => {
    await createConnectHandler(deps)(webSocketEvent("$connect", lucy));
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: RATES_TABLE,
      Key: { key: "user#Lucy" },
      ConditionExpression: "size(#connections) < :max OR attribute_exists(#connections.#id)",
      ExpressionAttributeNames: expect.objectContaining({ "#id": lucy.connectionId }),
      ExpressionAttributeValues: expect.objectContaining({ ":max": 10, ":expiresAt": NOW / 1000 + 7800 }),
    });
  });

  it("refuses the 11th live connection of a user with 429, storing and announcing nothing", async () => {
    const held = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`tab${i}`, NOW / 1000 + 600]));
    lucyFullOf(held);
    await expect(createConnectHandler(deps)(webSocketEvent("$connect", lucy))).resolves.toEqual({ statusCode: 429 });
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
    expect(presenceUpdates()).toEqual([]);
    expect(sent()).toEqual({});
  });

  it("asks API Gateway about a full user's connections and frees the dead ones (a lost $disconnect) to let one more in", async () => {
    const held = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`tab${i}`, NOW / 1000 + 600]));
    ddb
      .on(UpdateCommand, { TableName: RATES_TABLE, Key: { key: "user#Lucy" } })
      .rejectsOnce(new ConditionalCheckFailedException({ message: "failed", $metadata: {} }))
      .resolves({});
    ddb.on(GetCommand, { TableName: RATES_TABLE }).resolves({ Item: { key: "user#Lucy", connections: held } });
    api.on(GetConnectionCommand).resolves({});
    api.on(GetConnectionCommand, { ConnectionId: "tab3" }).rejects(goneError());
    await expect(createConnectHandler(deps)(webSocketEvent("$connect", lucy))).resolves.toEqual({ statusCode: 200 });
    expect(api).toHaveReceivedCommandTimes(GetConnectionCommand, 10);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: RATES_TABLE,
      Key: { key: "user#Lucy" },
      UpdateExpression: "REMOVE #connections.#id",
      ExpressionAttributeNames: { "#connections": "connections", "#id": "tab3" },
    });
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, { Key: { connectionId: "tab3" } });
  });

  it("refuses with 429 a user whose places are kept for connections closed for flooding, asking API Gateway nothing", async () => {
    const kept = keptPlaces(10);
    lucyFullOf(kept);
    const clock = { now: NOW };
    const connect = connectWithOwnRates(clock);
    await expect(connect(webSocketEvent("$connect", lucy))).resolves.toEqual({ statusCode: 429 });
    // One read of the user's places, and no second one to look for dead connections: a kept place is none.
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 1);
    expect(api).not.toHaveReceivedCommand(GetConnectionCommand);
    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, { UpdateExpression: "REMOVE #connections.#id" });
    // Until the first kept place expires, the same instance refuses the user's handshakes with no DynamoDB call.
    const calls = ddb.calls().length;
    await expect(connect(webSocketEvent("$connect", lucy))).resolves.toEqual({ statusCode: 429 });
    expect(ddb.calls()).toHaveLength(calls);
    clock.now = NOW + 30_000;
    await expect(connect(webSocketEvent("$connect", lucy))).resolves.toEqual({ statusCode: 429 });
    expect(ddb.calls().length).toBeGreaterThan(calls);
  });

  it("refuses with no call a user who flooded once its live connections answered, until its first kept place expires", async () => {
    // Nine places kept for connections closed for flooding, one quiet live connection that API Gateway knows.
    const places = { ...keptPlaces(9), quiet: NOW / 1000 + 600 };
    lucyFullOf(places);
    api.on(GetConnectionCommand).resolves({});
    const clock = { now: NOW };
    const connect = connectWithOwnRates(clock);
    await expect(connect(webSocketEvent("$connect", lucy))).resolves.toEqual({ statusCode: 429 });
    expect(api).toHaveReceivedCommandTimes(GetConnectionCommand, 1);
    const calls = { dynamo: ddb.calls().length, api: api.calls().length };
    await expect(connect(webSocketEvent("$connect", lucy))).resolves.toEqual({ statusCode: 429 });
    expect({ dynamo: ddb.calls().length, api: api.calls().length }).toEqual(calls);
    clock.now = NOW + 30_000;
    await expect(connect(webSocketEvent("$connect", lucy))).resolves.toEqual({ statusCode: 429 });
    expect(ddb.calls().length).toBeGreaterThan(calls.dynamo);
  });

  it("refuses with no call for 5 s a user whose ten live connections all answered, then asks again", async () => {
    lucyFullOf(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`tab${i}`, NOW / 1000 + 600])));
    api.on(GetConnectionCommand).resolves({});
    const clock = { now: NOW };
    const connect = connectWithOwnRates(clock);
    await expect(connect(webSocketEvent("$connect", lucy))).resolves.toEqual({ statusCode: 429 });
    expect(api).toHaveReceivedCommandTimes(GetConnectionCommand, 10);
    const calls = { dynamo: ddb.calls().length, api: api.calls().length };
    clock.now = NOW + 4_999;
    await expect(connect(webSocketEvent("$connect", lucy))).resolves.toEqual({ statusCode: 429 });
    expect({ dynamo: ddb.calls().length, api: api.calls().length }).toEqual(calls);
    clock.now = NOW + 5_000;
    await expect(connect(webSocketEvent("$connect", lucy))).resolves.toEqual({ statusCode: 429 });
    expect(api).toHaveReceivedCommandTimes(GetConnectionCommand, 20);
  });

  it("does not remember a user as full when its connections left before they could be asked", async () => {
    // Full at the update; by the read, every connection has let go (their $disconnect ran): nothing to ask.
    ddb
      .on(UpdateCommand, { TableName: RATES_TABLE, Key: { key: "user#Lucy" } })
      .rejects(new ConditionalCheckFailedException({ message: "failed", $metadata: {} }));
    ddb
      .on(GetCommand, { TableName: RATES_TABLE })
      .resolvesOnce({
        Item: {
          key: "user#Lucy",
          connections: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`tab${i}`, NOW / 1000 + 600])),
        },
      })
      .resolves({ Item: { key: "user#Lucy", connections: {} } });
    const connect = connectWithOwnRates({ now: NOW });
    await connect(webSocketEvent("$connect", lucy));
    const reads = ddb.commandCalls(GetCommand).length;
    await connect(webSocketEvent("$connect", lucy));
    expect(ddb.commandCalls(GetCommand).length).toBeGreaterThan(reads);
  });

  it("asks again at the next handshake when a full user's connection could not be asked (GetConnection throttled)", async () => {
    const places = { ...keptPlaces(9), quiet: NOW / 1000 + 600 };
    lucyFullOf(places);
    api.on(GetConnectionCommand).rejects(Object.assign(new Error("Rate exceeded"), { name: "LimitExceededException" }));
    const connect = connectWithOwnRates({ now: NOW });
    await expect(connect(webSocketEvent("$connect", lucy))).resolves.toEqual({ statusCode: 429 });
    await expect(connect(webSocketEvent("$connect", lucy))).resolves.toEqual({ statusCode: 429 });
    // The quiet connection may be dead: not knowing, the instance does not remember the user as full.
    expect(api).toHaveReceivedCommandTimes(GetConnectionCommand, 2);
  });

  it("leaves alone a held connection young enough to be inside its $connect, whose 410 does not mean dead", async () => {
    const young = NOW / 1000 + 7_800 - 5;
    const held = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`tab${i}`, young]));
    lucyFullOf(held);
    api.on(GetConnectionCommand).rejects(goneError());
    await expect(createConnectHandler(deps)(webSocketEvent("$connect", lucy))).resolves.toEqual({ statusCode: 429 });
    expect(api).not.toHaveReceivedCommand(GetConnectionCommand);
  });

  it("lets go of the hold and the record when storing the connection fails, and fails the handshake", async () => {
    ddb.on(PutCommand, { TableName: CONNECTIONS_TABLE }).rejects(new Error("DynamoDB is down"));
    await expect(createConnectHandler(deps)(webSocketEvent("$connect", lucy))).rejects.toThrow("DynamoDB is down");
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: RATES_TABLE,
      Key: { key: "user#Lucy" },
      UpdateExpression: "REMOVE #connections.#id",
    });
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, { Key: { connectionId: lucy.connectionId } });
  });

  it("takes back a handshake that failed after its arrival counted, telling no one Lucy left, and fails it", async () => {
    ddb
      .on(UpdateCommand, { TableName: PRESENCE_TABLE, Key: countKey, ExpressionAttributeValues: { ":delta": 1 } })
      .rejects(new Error("throttled"));
    await expect(createConnectHandler(deps)(webSocketEvent("$connect", lucy))).rejects.toThrow("throttled");
    expect(presenceUpdates()).toContainEqual(["Lucy", "DELETE #connections :connection"]);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: RATES_TABLE,
      UpdateExpression: "REMOVE #connections.#id",
    });
    // "Lucy connected" never went out, so neither may "Lucy disconnected".
    expect(sent()).toEqual({});
  });

  it("logs a failed handshake that could not be taken back", async () => {
    ddb.on(PutCommand, { TableName: CONNECTIONS_TABLE }).rejects(new Error("DynamoDB is down"));
    ddb.on(DeleteCommand, { TableName: CONNECTIONS_TABLE }).rejects(new Error("still down"));
    await expect(createConnectHandler(deps)(webSocketEvent("$connect", lucy))).rejects.toThrow("DynamoDB is down");
    expect(deps.logger.lines).toContainEqual(
      expect.objectContaining({ level: "error", message: "failed handshake not taken back" }),
    );
  });

  it("stores the connection and announces it to the other members only", async () => {
    const result = await createConnectHandler(deps)(webSocketEvent("$connect", lucy));
    expect(result).toEqual({ statusCode: 200 });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: CONNECTIONS_TABLE,
      Item: { ...lucy, connectedAt: NOW, expiresAt: NOW / 1000 + 7800 },
    });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: PRESENCE_TABLE,
      Key: userKey("Lucy"),
      ExpressionAttributeValues: { ":connection": new Set([lucy.connectionId]), ":expiresAt": NOW / 1000 + 7800 },
    });
    const system = { type: "system", from: "<server>", message: "Lucy connected", channel: "support", timestamp: NOW };
    expect(sent()).toEqual({ [bob.connectionId]: [system], [carol.connectionId]: [system] });
    expect(endpoints).toEqual(["https://abc.execute-api.eu-west-1.amazonaws.com/prod"]);
  });

  it("stores the connection and announces nothing when the user is already present on another connection", async () => {
    ddb.on(UpdateCommand, { TableName: PRESENCE_TABLE, Key: userKey("Lucy") }).resolves(stillThere("LucyTab2"));
    await expect(createConnectHandler(deps)(webSocketEvent("$connect", lucy))).resolves.toEqual({ statusCode: 200 });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: CONNECTIONS_TABLE,
      Item: expect.objectContaining(lucy),
    });
    expect(presenceUpdates()).toEqual([["Lucy", expect.stringContaining("ADD")]]);
    expect(ddb).not.toHaveReceivedCommandWith(QueryCommand, { IndexName: "byChannel" });
    expect(sent()).toEqual({});
  });

  it("announces nothing when the channel has more users than the presence limit, and counts the arrival", async () => {
    deps = { ...deps, presenceLimit: 2 };
    await createConnectHandler(deps)(webSocketEvent("$connect", lucy));
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { Key: countKey, ExpressionAttributeValues: { ":delta": 1 } });
    expect(ddb).not.toHaveReceivedCommandWith(QueryCommand, { IndexName: "byChannel" });
    expect(sent()).toEqual({});
  });

  it("announces an arrival when the kept count ran over the limit but the users' items do not (a missed $disconnect)", async () => {
    deps = { ...deps, presenceLimit: 2 };
    ddb.on(QueryCommand, { TableName: PRESENCE_TABLE }).resolves({ Items: presentItems("Bob", "Lucy") });
    await createConnectHandler(deps)(webSocketEvent("$connect", lucy));
    expect(Object.keys(sent()).sort()).toEqual([bob.connectionId, carol.connectionId]);
    // At most limit + 1 items read, strongly consistent; the count set right unless it changed meanwhile.
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, { TableName: PRESENCE_TABLE, Limit: 3, ConsistentRead: true });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      Key: countKey,
      UpdateExpression: "SET #count = :listed",
      ConditionExpression: "#count = :kept",
      ExpressionAttributeValues: { ":listed": 2, ":kept": 3 },
    });
  });

  it("reads no presence item when the kept count is far over the limit: the channel is large", async () => {
    deps = { ...deps, presenceLimit: 2 };
    ddb.on(UpdateCommand, { TableName: PRESENCE_TABLE, Key: countKey }).resolves({ Attributes: { count: 13 } });
    await createConnectHandler(deps)(webSocketEvent("$connect", lucy));
    expect(ddb).not.toHaveReceivedCommandWith(QueryCommand, { TableName: PRESENCE_TABLE });
    expect(sent()).toEqual({});
  });

  it("announces an arrival in a channel exactly at the presence limit", async () => {
    deps = { ...deps, presenceLimit: 3 };
    await createConnectHandler(deps)(webSocketEvent("$connect", lucy));
    expect(Object.keys(sent()).sort()).toEqual([bob.connectionId, carol.connectionId]);
  });

  it("echoes chat.v1 when the client offered its token as a subprotocol", async () => {
    const event = { ...webSocketEvent("$connect", lucy), headers: { "Sec-WebSocket-Protocol": "chat.v1, a.b.c" } };
    await expect(createConnectHandler(deps)(event)).resolves.toEqual({
      statusCode: 200,
      headers: { "Sec-WebSocket-Protocol": "chat.v1" },
    });
  });

  it("refuses an event without authorizer context and stores nothing", async () => {
    await expect(createConnectHandler(deps)(webSocketEvent("$connect", undefined))).resolves.toEqual({
      statusCode: 403,
    });
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });
});

describe("$disconnect", () => {
  it("deletes the connection and announces the leave to the others", async () => {
    ddb
      .on(QueryCommand, { IndexName: "byChannel" })
      .resolves({ Items: [bob, carol].map(({ connectionId, username }) => ({ connectionId, username })) });
    await expect(createDisconnectHandler(deps)(webSocketEvent("$disconnect", lucy))).resolves.toEqual({
      statusCode: 200,
    });
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, { Key: { connectionId: lucy.connectionId } });
    expect(Object.keys(sent()).sort()).toEqual([bob.connectionId, carol.connectionId]);
    expect(sent()[bob.connectionId]).toEqual([
      expect.objectContaining({ type: "system", message: "Lucy disconnected" }),
    ]);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: PRESENCE_TABLE,
      Key: userKey("Lucy"),
      ExpressionAttributeValues: { ":connection": new Set([lucy.connectionId]), ":id": lucy.connectionId },
    });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      Key: countKey,
      ExpressionAttributeValues: { ":delta": -1 },
    });
  });

  it("deletes the connection and announces nothing while another connection of the user stays", async () => {
    ddb.on(UpdateCommand, { TableName: PRESENCE_TABLE, Key: userKey("Lucy") }).resolves(stillThere("LucyTab2"));
    await createDisconnectHandler(deps)(webSocketEvent("$disconnect", lucy));
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, { Key: { connectionId: lucy.connectionId } });
    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, { Key: countKey });
    expect(sent()).toEqual({});
  });

  it("announces nothing when the connection had already left the presence (found gone by a broadcast)", async () => {
    ddb
      .on(UpdateCommand, { TableName: PRESENCE_TABLE, Key: userKey("Lucy") })
      .rejects(new ConditionalCheckFailedException({ message: "failed", $metadata: {} }));
    await expect(createDisconnectHandler(deps)(webSocketEvent("$disconnect", lucy))).resolves.toEqual({
      statusCode: 200,
    });
    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, { Key: countKey });
    expect(sent()).toEqual({});
  });

  it("announces nothing when the channel had more users than the presence limit", async () => {
    deps = { ...deps, presenceLimit: 3 };
    await createDisconnectHandler(deps)(webSocketEvent("$disconnect", lucy));
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      Key: countKey,
      ExpressionAttributeValues: { ":delta": -1 },
    });
    expect(sent()).toEqual({});
  });

  it("announces a departure when the kept count ran over the limit but the users' items do not", async () => {
    deps = { ...deps, presenceLimit: 3 };
    // Kept: 3 left after Lucy (4 before, over 3); read: Bob and Carol left, so 3 before her departure.
    ddb.on(QueryCommand, { TableName: PRESENCE_TABLE }).resolves({ Items: presentItems("Bob", "Carol") });
    await createDisconnectHandler(deps)(webSocketEvent("$disconnect", lucy));
    expect(Object.keys(sent()).sort()).toEqual([bob.connectionId, carol.connectionId]);
  });

  it("still lets go of the hold and tells the others when removing the record fails, then fails", async () => {
    ddb.on(DeleteCommand, { TableName: CONNECTIONS_TABLE }).rejects(new Error("throttled"));
    await expect(createDisconnectHandler(deps)(webSocketEvent("$disconnect", lucy))).rejects.toThrow("throttled");
    expect(presenceUpdates()).toContainEqual(["Lucy", "DELETE #connections :connection"]);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: RATES_TABLE,
      UpdateExpression: "REMOVE #connections.#id",
    });
    expect(Object.keys(sent()).sort()).toEqual([bob.connectionId, carol.connectionId]);
  });

  it("still tells the others when letting go of the hold fails, then fails", async () => {
    ddb.on(UpdateCommand, { TableName: RATES_TABLE }).rejects(new Error("throttled"));
    await expect(createDisconnectHandler(deps)(webSocketEvent("$disconnect", lucy))).rejects.toThrow("throttled");
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, { Key: { connectionId: lucy.connectionId } });
    expect(Object.keys(sent()).sort()).toEqual([bob.connectionId, carol.connectionId]);
  });
});

describe("$default", () => {
  it("turns plain text into a chat message with the seed's fields, stored, posted to the others and answered to the sender", async () => {
    const message = {
      type: "message",
      id: "msg-1",
      from: "Lucy",
      message: "hello",
      channel: "support",
      timestamp: NOW,
    };
    await expect(send("hello")).resolves.toEqual(answered(200, message));
    // The sender's copy is its route response, never a post.
    expect(api).not.toHaveReceivedCommandWith(PostToConnectionCommand, { ConnectionId: lucy.connectionId });
    expect(sent()).toEqual({
      [lucy.connectionId]: [message],
      [bob.connectionId]: [message],
      [carol.connectionId]: [message],
    });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: HISTORY_TABLE,
      Item: expect.objectContaining(message),
    });
  });

  it("reports each broadcast and flushes the metrics once per event", async () => {
    const reports: unknown[] = [];
    let flushes = 0;
    deps = {
      ...deps,
      onBroadcast: (channel, result) => reports.push({ channel, result }),
      flushMetrics: () => {
        flushes++;
      },
    };
    await send("hello");
    expect(reports).toEqual([
      { channel: "support", result: { delivered: 2, gone: 0, connecting: 0, failed: 0, notRemoved: 0 } },
    ]);
    expect(flushes).toBe(1);
  });

  it("sends text that merely looks like broken JSON as a chat message", async () => {
    await send('{"action":"send", "message": ');
    expect(sent()[bob.connectionId]).toEqual([
      expect.objectContaining({ type: "message", message: '{"action":"send", "message":' }),
    ]);
  });

  it("deletes a Gone member, not the sender (the aws-samples bug)", async () => {
    api.on(PostToConnectionCommand, { ConnectionId: bob.connectionId }).rejects(goneError());
    ddb.on(BatchWriteCommand).resolves({});
    await send('{"action":"send","message":"hi"}');
    const deleted = ddb
      .commandCalls(BatchWriteCommand)
      .flatMap((call) => call.args[0].input.RequestItems?.[CONNECTIONS_TABLE] ?? [])
      .map((request) => request.DeleteRequest?.Key?.connectionId);
    expect(deleted).toEqual([bob.connectionId]);
    expect(ddb).not.toHaveReceivedCommandWith(DeleteCommand, { TableName: CONNECTIONS_TABLE });
  });

  it("makes a Gone member leave the presence, with its notice to the others when it was the user's last connection", async () => {
    api.on(PostToConnectionCommand, { ConnectionId: bob.connectionId }).rejects(goneError());
    ddb.on(BatchWriteCommand).resolves({});
    await send("hi");
    expect(presenceUpdates()).toEqual([
      ["Bob", expect.stringContaining("DELETE")],
      ["#count", expect.any(String)],
    ]);
    const notice = expect.objectContaining({ type: "system", message: "Bob disconnected" });
    // Lucy's own copy is her answer, sent after the invocation, so after the notice posted during it.
    expect(sent()[lucy.connectionId]).toEqual([notice, expect.objectContaining({ message: "hi" })]);
    expect(sent()[carol.connectionId]).toEqual([expect.objectContaining({ message: "hi" }), notice]);
  });

  it("makes a Gone member leave the presence silently while the user has another connection", async () => {
    api.on(PostToConnectionCommand, { ConnectionId: bob.connectionId }).rejects(goneError());
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(UpdateCommand, { TableName: PRESENCE_TABLE, Key: userKey("Bob") }).resolves(stillThere("BobTab2"));
    await send("hi");
    expect(presenceUpdates()).toEqual([["Bob", expect.stringContaining("DELETE")]]);
    expect(sent()[carol.connectionId]).toEqual([expect.objectContaining({ message: "hi" })]);
  });

  it.each([
    ['{"action":"dance"}', "unknown_action"],
    ['{"action":"send"}', "bad_request"],
    [JSON.stringify({ action: "send", message: "x".repeat(4001) }), "too_large"],
  ])("answers %s with a %s error frame to the sender alone", async (body, code) => {
    await expect(send(body)).resolves.toEqual(answered(200, { type: "error", code, message: expect.any(String) }));
    expect(onlyAnswered()).toEqual({ [lucy.connectionId]: [{ type: "error", code, message: expect.any(String) }] });
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it("refuses an event flagged base64 unread with bad_request, storing nothing", async () => {
    // API Gateway closes a connection with 1003 on a binary frame and invokes no route, so this is only a guard.
    await expect(send("AAEC", true)).resolves.toEqual(
      answered(400, { type: "error", code: "bad_request", message: "binary frames are not supported" }),
    );
    expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
    expect(ddb).not.toHaveReceivedAnyCommand();
    expect(deps.logger.lines).toContainEqual(
      expect.objectContaining({ level: "warn", message: "binary frame refused" }),
    );
  });

  it("takes from the user's chat rate, then writes the message and reads the channel's members at once", async () => {
    let indexRead = () => {};
    const indexReadStarted = new Promise<void>((resolve) => {
      indexRead = resolve;
    });
    // The put answers only once the index read has started: one after the other would never get there.
    ddb.on(PutCommand, { TableName: HISTORY_TABLE }).callsFake(async () => {
      await indexReadStarted;
      return {};
    });
    ddb.on(QueryCommand, { IndexName: "byChannel" }).callsFake(async () => {
      indexRead();
      return { Items: [lucy, bob].map(({ connectionId, username }) => ({ connectionId, username })) };
    });
    await send("hello");
    expect(ddb.calls().map((call) => call.args[0].constructor.name)).toEqual([
      "UpdateCommand",
      "PutCommand",
      "QueryCommand",
    ]);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: RATES_TABLE,
      Key: { key: `chat#Lucy#${Math.floor(NOW / 10_000)}` },
      ConditionExpression: "attribute_not_exists(#count) OR #count < :max",
      ExpressionAttributeValues: expect.objectContaining({ ":max": 20 }),
    });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: HISTORY_TABLE,
      Item: expect.objectContaining({ id: "msg-1", sk: `00${NOW}#msg-1` }),
    });
    expect(Object.keys(sent()).sort()).toEqual([bob.connectionId, lucy.connectionId]);
  });

  it("answers a chat message over the user's rate with rate_limited, reading nothing, writing and sending nothing", async () => {
    everyWindowFull();
    await send("one too many");
    expect(onlyAnswered()).toEqual({
      [lucy.connectionId]: [{ type: "error", code: "rate_limited", message: "at most 20 messages per 10 seconds" }],
    });
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
    expect(ddb).not.toHaveReceivedCommand(GetCommand);
    // The refusal is counted against the connection, for the minute.
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: RATES_TABLE,
      Key: { key: `refused#${lucy.connectionId}#${Math.floor(NOW / 60_000)}` },
    });
  });

  it.each([
    ['{"action":"ping"}'],
    ['{"action":"who"}'],
    ['{"action":"history"}'],
    ['{"action":"nope"}'],
    ['{"action":"send"}'],
  ])("takes %s from the user's rate of other requests", async (body) => {
    await send(body);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: RATES_TABLE,
      Key: { key: `other#Lucy#${Math.floor(NOW / 10_000)}` },
    });
    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, {
      TableName: RATES_TABLE,
      Key: { key: `chat#Lucy#${Math.floor(NOW / 10_000)}` },
    });
  });

  it("answers a request over the rate of other requests with rate_limited and does not read", async () => {
    everyWindowFull();
    await send('{"action":"who"}');
    expect(onlyAnswered()).toEqual({
      [lucy.connectionId]: [{ type: "error", code: "rate_limited", message: "at most 20 requests per 10 seconds" }],
    });
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
    expect(ddb).not.toHaveReceivedCommand(GetCommand);
  });

  it("closes a connection at its 100th rate_limited answer within the minute, after answering it, once, keeping its place", async () => {
    everyWindowFull();
    lucysRefusals()
      .resolvesOnce({ Attributes: { count: 99 } })
      .resolvesOnce({ Attributes: { count: 100 } })
      .resolvesOnce({ Attributes: { count: 101 } })
      .resolves({ Attributes: { count: 150 } });
    const keepPlace = {
      TableName: RATES_TABLE,
      Key: { key: "user#Lucy" },
      UpdateExpression: "SET #connections.#kept = if_not_exists(#connections.#kept, :until)",
      ExpressionAttributeNames: { "#connections": "connections", "#kept": `closed#${lucy.connectionId}` },
      ExpressionAttributeValues: { ":until": NOW / 1000 + 60 },
    };
    const order: string[] = [];
    ddb.on(UpdateCommand, keepPlace).callsFake(async () => {
      order.push("keep place");
      return {};
    });
    api.on(DeleteConnectionCommand).callsFake(async () => {
      order.push("close");
      return {};
    });
    api.on(PostToConnectionCommand, { ConnectionId: lucy.connectionId }).callsFake(async () => {
      order.push("told");
      return {};
    });
    await send("flood");
    expect(api).not.toHaveReceivedCommand(DeleteConnectionCommand);
    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, keepPlace);
    await send("flood");
    expect(api).toHaveReceivedCommandWith(DeleteConnectionCommand, { ConnectionId: lucy.connectionId });
    // Told first: a route response would come after the close. Its place among Lucy's 10 stays taken for a minute,
    // from before the close, so a reconnect cannot take it.
    expect(order).toEqual(["told", "keep place", "close"]);
    // Frames already on their way are refused without closing it again; the 150th tries once more.
    await send("flood");
    expect(api).toHaveReceivedCommandTimes(DeleteConnectionCommand, 1);
    await send("flood");
    expect(api).toHaveReceivedCommandTimes(DeleteConnectionCommand, 2);
    expect(order).toEqual(["told", "keep place", "close", "told", "keep place", "close"]);
    // Every refusal is answered too (on AWS the closing ones' answers find the connection gone).
    expect(answers).toHaveLength(4);
    expect(deps.logger.lines).toContainEqual(
      expect.objectContaining({ level: "warn", message: "connection closed for ignoring rate_limited" }),
    );
  });

  it("answers rate_limited, not internal, when the refusal cannot be counted (DynamoDB throttled)", async () => {
    everyWindowFull();
    lucysRefusals().rejects(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
    await send("flood");
    expect(onlyAnswered()).toEqual({
      [lucy.connectionId]: [{ type: "error", code: "rate_limited", message: "at most 20 messages per 10 seconds" }],
    });
    expect(api).not.toHaveReceivedCommand(DeleteConnectionCommand);
    expect(deps.logger.lines).toContainEqual(
      expect.objectContaining({ level: "warn", message: "refusal not counted" }),
    );
  });

  it("closes a flooding connection even when its place cannot be kept (DynamoDB throttled)", async () => {
    everyWindowFull();
    lucysRefusals().resolves({ Attributes: { count: 100 } });
    ddb
      .on(UpdateCommand, { TableName: RATES_TABLE, Key: { key: "user#Lucy" } })
      .rejects(Object.assign(new Error("Rate exceeded"), { name: "ProvisionedThroughputExceededException" }));
    api.on(DeleteConnectionCommand).resolves({});
    await send("flood");
    expect(api).toHaveReceivedCommandWith(DeleteConnectionCommand, { ConnectionId: lucy.connectionId });
    const refusal = { type: "error", code: "rate_limited", message: "at most 20 messages per 10 seconds" };
    // Posted before the close, and answered.
    expect(sent()).toEqual({ [lucy.connectionId]: [refusal, refusal] });
    expect(deps.logger.lines).toContainEqual(
      expect.objectContaining({ level: "warn", message: "place of a connection closed for flooding not kept" }),
    );
  });

  it("does not store the sender again when the index does not list it (no ghost), and still sends it its message", async () => {
    // The sender's $disconnect may be removing it right now: storing it again would bring back a user who left.
    ddb
      .on(QueryCommand, { IndexName: "byChannel" })
      .resolves({ Items: [bob, carol].map(({ connectionId, username }) => ({ connectionId, username })) });
    await send("still here");
    expect(ddb).not.toHaveReceivedCommandWith(PutCommand, { TableName: CONNECTIONS_TABLE });
    expect(presenceUpdates()).toEqual([]);
    for (const who of [lucy, bob, carol]) {
      expect(sent()[who.connectionId]).toEqual([expect.objectContaining({ message: "still here" })]);
    }
  });

  it("answers ping with pong", async () => {
    await send('{"action":"ping"}');
    expect(onlyAnswered()).toEqual({ [lucy.connectionId]: [{ type: "pong", timestamp: NOW }] });
  });

  it("answers who from the presence table in its key order (code points) with the kept count, reading no index", async () => {
    ddb
      .on(QueryCommand, { TableName: PRESENCE_TABLE })
      .resolves({ Items: [{ user: "Bob" }, { user: "Lucy" }, { user: "Ångström" }] });
    await send('{"action":"who"}');
    expect(onlyAnswered()).toEqual({
      [lucy.connectionId]: [{ type: "presence", channel: "support", users: ["Bob", "Lucy", "Ångström"], count: 3 }],
    });
    expect(ddb).not.toHaveReceivedCommandWith(QueryCommand, { TableName: CONNECTIONS_TABLE });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: PRESENCE_TABLE,
      ExpressionAttributeValues: expect.objectContaining({ ":channel": "support" }),
    });
  });

  it("answers who in a channel of at most 100 users with the users listed, not a kept count that ran high", async () => {
    // A missed $disconnect whose presence item DynamoDB's TTL deleted leaves the kept count one too high for good.
    ddb.on(GetCommand, { TableName: PRESENCE_TABLE, Key: countKey }).resolves({ Item: { count: 4 } });
    await send('{"action":"who"}');
    expect(onlyAnswered()).toEqual({
      [lucy.connectionId]: [{ type: "presence", channel: "support", users: ["Bob", "Carol", "Lucy"], count: 3 }],
    });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, { TableName: PRESENCE_TABLE, ConsistentRead: true });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      Key: countKey,
      UpdateExpression: "SET #count = :listed",
      ExpressionAttributeValues: { ":listed": 3, ":kept": 4 },
    });
  });

  it("lists the first 100 users of a large channel across presence pages, and counts them all", async () => {
    // 250 users of 32 four-byte letters; the filter (expired items) leaves pages short, so the reads go on.
    const name = (i: number) =>
      `${String.fromCodePoint(0x1d400 + (i % 26))}${"𝐀".repeat(28)}${String(i).padStart(3, "0")}`;
    const users = Array.from({ length: 250 }, (_, i) => name(i)).sort(compareCodePoints);
    const items = users.map((user) => ({ user }));
    ddb
      .on(QueryCommand, { TableName: PRESENCE_TABLE })
      .resolvesOnce({ Items: items.slice(0, 60), LastEvaluatedKey: { channel: "support", user: users[60] } })
      .resolvesOnce({ Items: items.slice(60, 100), LastEvaluatedKey: { channel: "support", user: users[100] } })
      .resolvesOnce({ Items: items.slice(100) });
    ddb.on(GetCommand, { TableName: PRESENCE_TABLE, Key: countKey }).resolves({ Item: { count: 250 } });
    await send('{"action":"who"}');
    const [frame] = sent()[lucy.connectionId] ?? [];
    expect(frame).toEqual({ type: "presence", channel: "support", users: users.slice(0, 100), count: 250 });
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 2);
    expect(Buffer.byteLength(answers[0]?.[1] ?? "")).toBeLessThanOrEqual(128 * 1024);
  });

  const stored = (id: string, timestamp: number, message = id) => ({
    type: "message",
    id,
    from: "Bob",
    message,
    channel: "support",
    timestamp,
  });
  const storedItem = (id: string, timestamp: number, message = id) => ({
    ...stored(id, timestamp, message),
    sk: historyKey(timestamp, id),
    expiresAt: timestamp / 1000 + 86_400,
  });

  it("answers history with the newest page, oldest first, and whether older messages exist", async () => {
    ddb
      .on(QueryCommand, { TableName: HISTORY_TABLE })
      .resolves({ Items: [storedItem("m2", NOW), storedItem("m1", NOW - 1)] });
    await send('{"action":"history"}');
    expect(onlyAnswered()).toEqual({
      [lucy.connectionId]: [
        { type: "history", channel: "support", messages: [stored("m1", NOW - 1), stored("m2", NOW)], more: false },
      ],
    });
  });

  it.each([
    ["before", false],
    ["after", true],
  ])("answers history %s a message with the page on that side of it", async (side, forward) => {
    ddb.on(QueryCommand, { TableName: HISTORY_TABLE }).resolves({ Items: [] });
    await send(JSON.stringify({ action: "history", [side]: { timestamp: NOW - 60_000, id: "m1" } }));
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, { TableName: HISTORY_TABLE, ScanIndexForward: forward });
    expect(onlyAnswered()).toEqual({
      [lucy.connectionId]: [{ type: "history", channel: "support", messages: [], more: false }],
    });
  });

  it("answers a history frame with both cursors with bad_request, reading nothing", async () => {
    const cursor = { timestamp: NOW, id: "m1" };
    await send(JSON.stringify({ action: "history", before: cursor, after: cursor }));
    expect(onlyAnswered()).toEqual({
      [lucy.connectionId]: [expect.objectContaining({ type: "error", code: "bad_request" })],
    });
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
  });

  it("pages 50 stored messages of 4,000 control characters into a reply within 128 KiB", async () => {
    const items = Array.from({ length: 50 }, (_, i) =>
      storedItem(`m${String(50 - i).padStart(2, "0")}`, NOW - i, "\u0001".repeat(4_000)),
    );
    ddb.on(QueryCommand, { TableName: HISTORY_TABLE }).resolves({ Items: items });
    await send('{"action":"history"}');
    const body = answers[0]?.[1] ?? "";
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(128 * 1024);
    const frame = JSON.parse(body) as { messages: { id: string }[]; more: boolean };
    expect(frame.messages.map((message) => message.id)).toEqual(["m46", "m47", "m48", "m49", "m50"]);
    expect(frame.more).toBe(true);
  });

  it("never answers over 128 KiB: the sender gets an internal error instead", async () => {
    // An item that breaks the name rules (written by something else) makes a presence list too large to send.
    ddb.on(QueryCommand, { TableName: PRESENCE_TABLE }).resolves({ Items: [{ user: "x".repeat(140_000) }] });
    await expect(send('{"action":"who"}')).resolves.toEqual(answered(500));
    expect(onlyAnswered()).toEqual({
      [lucy.connectionId]: [{ type: "error", code: "internal", message: expect.stringContaining("req-1") }],
    });
    expect(deps.logger.lines).toContainEqual(
      expect.objectContaining({
        level: "error",
        message: "frame failed",
        extra: [expect.objectContaining({ error: expect.any(ReplyTooLargeError) })],
      }),
    );
  });

  it("answers a kept message with its copy when reading the channel's members fails (the page would send it again)", async () => {
    ddb.on(QueryCommand, { IndexName: "byChannel" }).rejects(new Error("index throttled"));
    await send("kept");
    expect(ddb).toHaveReceivedCommandWith(PutCommand, { TableName: HISTORY_TABLE });
    expect(onlyAnswered()).toEqual({ [lucy.connectionId]: [expect.objectContaining({ message: "kept" })] });
    expect(deps.logger.lines).toContainEqual(
      expect.objectContaining({ level: "error", message: "message kept but not delivered" }),
    );
  });

  it("answers internal, logged with the request id, when DynamoDB fails, and keeps the connection", async () => {
    ddb.on(PutCommand).rejects(new Error("DynamoDB is down"));
    await expect(send("hello")).resolves.toEqual(
      answered(500, { type: "error", code: "internal", message: expect.stringContaining("req-1") }),
    );
    expect(onlyAnswered()).toEqual({
      [lucy.connectionId]: [{ type: "error", code: "internal", message: expect.stringContaining("req-1") }],
    });
    expect(deps.logger.lines).toContainEqual(expect.objectContaining({ level: "error", message: "frame failed" }));
  });

  it("refuses an event without authorizer context", async () => {
    await expect(createMessageHandler(deps)(webSocketEvent("$default", undefined, "hi"))).resolves.toEqual(
      answered(403, { type: "error", code: "internal", message: expect.any(String) }),
    );
    expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
  });
});

describe("private channels and direct messages (PROTOCOL v2 §7)", () => {
  const team = { ...lucy, channel: "private-team" };
  const memberKey = (user: string) => ({ channel: "private-team", user });

  it("refuses a stranger's handshake to a private channel with 403, lets go of its hold and stores nothing", async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [MEMBERS_TABLE]: [{ ...memberKey("#owner"), owner: "Ann" }] } });
    const result = await createConnectHandler(deps)(webSocketEvent("$connect", team));
    expect(result).toEqual({ statusCode: 403 });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: RATES_TABLE,
      Key: { key: "user#Lucy" },
      UpdateExpression: "REMOVE #connections.#id",
    });
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
    expect(presenceUpdates()).toEqual([]);
  });

  it("makes the first user of a private channel its owner, with one conditional put", async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [MEMBERS_TABLE]: [] } });
    ddb.on(GetCommand, { TableName: MEMBERS_TABLE }).resolves({ Item: { ...memberKey("Lucy"), role: "owner" } });
    await expect(createConnectHandler(deps)(webSocketEvent("$connect", team))).resolves.toEqual({ statusCode: 200 });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: MEMBERS_TABLE,
      Item: { ...memberKey("#owner"), owner: "Lucy" },
      ConditionExpression: "attribute_not_exists(#user)",
    });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: MEMBERS_TABLE,
      Item: { ...memberKey("Lucy"), role: "owner" },
    });
  });

  it("answers an invite by a member who does not own the channel with forbidden, changing nothing", async () => {
    ddb.on(GetCommand, { TableName: MEMBERS_TABLE }).resolves({ Item: { ...memberKey("Lucy"), role: "member" } });
    ddb.on(BatchGetCommand).resolves({
      Responses: {
        [MEMBERS_TABLE]: [
          { ...memberKey("Lucy"), role: "member" },
          { ...memberKey("#owner"), owner: "Ann" },
        ],
      },
    });
    await handle(team, '{"action":"invite","user":"Bob"}');
    expect(onlyAnswered()).toEqual({
      [lucy.connectionId]: [{ type: "error", code: "forbidden", message: "only the channel's owner can invite" }],
    });
    expect(ddb).not.toHaveReceivedCommandWith(PutCommand, { TableName: MEMBERS_TABLE });
  });

  it("sends a direct message to every live connection of both users, keeps it in their conversation", async () => {
    const live = NOW / 1000 + 7_000;
    ddb.on(GetCommand, { TableName: RATES_TABLE, Key: { key: "user#Lucy" } }).resolves({
      Item: {
        connections: {
          [lucy.connectionId]: live,
          LucyTab2: live,
          LucyOld: NOW / 1000 - 1,
          "closed#LucyFlood": NOW / 1000 + 30,
        },
      },
    });
    ddb.on(GetCommand, { TableName: RATES_TABLE, Key: { key: "user#Bob" } }).resolves({
      Item: { connections: { [bob.connectionId]: live } },
    });
    await send('{"action":"dm","to":"Bob","message":"psst"}');
    const dm = { type: "dm", id: "msg-1", from: "Lucy", to: "Bob", message: "psst", timestamp: NOW };
    expect(sent()).toEqual({ [lucy.connectionId]: [dm], LucyTab2: [dm], [bob.connectionId]: [dm] });
    // The sending connection's copy is its answer.
    expect(api).not.toHaveReceivedCommandWith(PostToConnectionCommand, { ConnectionId: lucy.connectionId });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: HISTORY_TABLE,
      Item: { ...dm, channel: "dm#Bob#Lucy", sk: historyKey(NOW, "msg-1"), expiresAt: NOW / 1000 + 86_400 },
    });
    // No channel was read or posted to.
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
  });

  it("answers a kept direct message with its copy when its users' connections cannot be read", async () => {
    ddb.on(GetCommand, { TableName: RATES_TABLE }).rejects(new Error("throttled"));
    await send('{"action":"dm","to":"Bob","message":"psst"}');
    expect(ddb).toHaveReceivedCommandWith(PutCommand, { TableName: HISTORY_TABLE });
    expect(onlyAnswered()).toEqual({ [lucy.connectionId]: [expect.objectContaining({ type: "dm", message: "psst" })] });
    expect(deps.logger.lines).toContainEqual(
      expect.objectContaining({ level: "error", message: "direct message kept but not delivered" }),
    );
  });

  it("answers a delivered direct message with its copy even when a gone recipient cannot be removed", async () => {
    const live = NOW / 1000 + 7_000;
    ddb.on(GetCommand, { TableName: RATES_TABLE, Key: { key: "user#Lucy" } }).resolves({
      Item: { connections: { [lucy.connectionId]: live } },
    });
    ddb.on(GetCommand, { TableName: RATES_TABLE, Key: { key: "user#Bob" } }).resolves({
      Item: { connections: { [bob.connectionId]: live, BobOld: NOW / 1000 + 600 } },
    });
    api.on(PostToConnectionCommand, { ConnectionId: "BobOld" }).rejects(goneError());
    ddb.on(DeleteCommand, { TableName: CONNECTIONS_TABLE }).rejects(new Error("DynamoDB is down"));
    const result = await send('{"action":"dm","to":"Bob","message":"psst"}');
    const dm = { type: "dm", id: "msg-1", from: "Lucy", to: "Bob", message: "psst", timestamp: NOW };
    expect(result).toEqual(answered(200, dm));
    expect(sent()[bob.connectionId]).toEqual([dm]);
    expect(deps.logger.lines).toContainEqual(
      expect.objectContaining({ level: "warn", message: "gone recipient of a direct message not removed" }),
    );
  });

  it("answers a direct message to oneself with forbidden and keeps nothing", async () => {
    await send('{"action":"dm","to":"Lucy","message":"note"}');
    expect(onlyAnswered()).toEqual({
      [lucy.connectionId]: [expect.objectContaining({ type: "error", code: "forbidden" })],
    });
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it("pages a conversation from the asker's own name: history with Bob reads dm#Bob#Lucy", async () => {
    await send('{"action":"history","with":"Bob"}');
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: HISTORY_TABLE,
      ExpressionAttributeValues: expect.objectContaining({ ":channel": "dm#Bob#Lucy" }),
    });
    expect(onlyAnswered()).toEqual({
      [lucy.connectionId]: [{ type: "history", with: "Bob", messages: [], more: false }],
    });
  });
});
