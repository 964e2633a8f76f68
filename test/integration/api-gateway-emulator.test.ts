import { randomBytes } from "node:crypto";
import { type Socket, connect as tcpConnect } from "node:net";
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PresenceStore } from "../../lambda/core/presence-store.ts";
import { newConnectionId } from "../../local/api-gateway-events.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws.ts";
import type { LocalStack, LocalStackOptions } from "../../local/local-stack.ts";
import { connect, eventually, startTestStack, storedConnections, tokenFor } from "./harness.ts";

let stack: LocalStack;
let management: ApiGatewayManagementApiClient;
beforeAll(async () => {
  stack = await startTestStack();
  management = new ApiGatewayManagementApiClient({
    endpoint: stack.managementEndpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
});
afterAll(async () => {
  management.destroy();
  await stack.close();
});

/** The connection id the emulator gave the newest connection of `username`. */
async function connectionIdOf(username: string, channel: string, on = stack): Promise<string> {
  let id: string | undefined;
  await eventually(async () => {
    id = (await storedConnections(on)).find((item) => item.username === username && item.channel === channel)
      ?.connectionId as string | undefined;
    return id !== undefined;
  });
  return id as string;
}

/** A valid opening handshake's headers (RFC 6455 §4.1), to spoil one at a time. */
const handshakeHeaders = (): Record<string, string> => ({
  Connection: "Upgrade",
  Upgrade: "websocket",
  "Sec-WebSocket-Version": "13",
  "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
});

/**
 * An upgrade request written by hand on a TCP socket, for `username` in `channel` with a valid token: the status
 * answered, and the socket, left open. After a 101 it never reads a frame nor answers a close, as a client that
 * has gone quiet.
 */
async function rawUpgrade(
  on: LocalStack,
  username: string,
  channel: string,
  headers: Record<string, string>,
  method = "GET",
): Promise<{ status: number; socket: Socket }> {
  const url = new URL(on.wsUrl);
  const query = new URLSearchParams({ token: await tokenFor(on, username), channel });
  const socket = tcpConnect(Number(url.port), url.hostname);
  const head = [`${method} ${url.pathname}?${query} HTTP/1.1`, `Host: ${url.host}`];
  socket.write(
    `${[...head, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)].join("\r\n")}\r\n\r\n`,
  );
  const status = await new Promise<number>((resolve, reject) => {
    let received = "";
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      const answered = /^HTTP\/1\.1 (\d{3}) /.exec(received);
      if (answered && received.includes("\r\n\r\n")) resolve(Number(answered[1]));
    });
    socket.once("error", reject);
    socket.once("close", () => reject(new Error(`closed without an answer: ${JSON.stringify(received)}`)));
  });
  return { status, socket };
}

/** What GetConnection answers for `id`: "live", or "gone" for a GoneException. */
const describeConnection = (id: string, client = management): Promise<"live" | "gone"> =>
  client.send(new GetConnectionCommand({ ConnectionId: id })).then(
    () => "live",
    (error: unknown) => {
      if (error instanceof GoneException) return "gone";
      throw error;
    },
  );

describe("management API, through the real SDK", () => {
  it("delivers PostToConnection to the socket as a text frame", async () => {
    const client = await connect(stack, "Lucy", "mgmt");
    const id = await connectionIdOf("Lucy", "mgmt");
    await management.send(
      new PostToConnectionCommand({ ConnectionId: id, Data: JSON.stringify({ type: "pong", timestamp: 1 }) }),
    );
    expect(await client.ofType("pong")).toEqual({ type: "pong", timestamp: 1 });
    await client.close();
  });

  it("gives connection ids in API Gateway's shape, URL-decoded on the way back", async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, (_, i) => connect(stack, `Shape${i}`, "shape")));
    const ids = await Promise.all(clients.map((_, i) => connectionIdOf(`Shape${i}`, "shape")));
    // URL-safe base64 with `=` padding, as API Gateway's `JC1dgf9yoAMCK-g=`: never `+` or `/`.
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{15}=$/);
    const many = Array.from({ length: 2_000 }, newConnectionId);
    expect(many.filter((id) => !/^[A-Za-z0-9_-]{15}=$/.test(id))).toEqual([]);
    for (const [i, id] of ids.entries()) {
      const described = await management.send(new GetConnectionCommand({ ConnectionId: id }));
      expect(described.ConnectedAt).toBeInstanceOf(Date);
      expect(described.Identity?.SourceIp).toBe("127.0.0.1");
      await management.send(
        new PostToConnectionCommand({ ConnectionId: id, Data: `{"type":"pong","timestamp":${i}}` }),
      );
      expect(await clients[i]?.ofType("pong")).toEqual({ type: "pong", timestamp: i });
    }
    await Promise.all(clients.map((client) => client.close()));
  });

  it("answers an unknown connection with a 410 the SDK raises as GoneException", async () => {
    const error = await management
      .send(new PostToConnectionCommand({ ConnectionId: "NoSuchConnId=", Data: "{}" }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GoneException);
    expect((error as GoneException).$metadata.httpStatusCode).toBe(410);
    await expect(management.send(new GetConnectionCommand({ ConnectionId: "NoSuchConnId=" }))).rejects.toBeInstanceOf(
      GoneException,
    );
  });

  it("answers a body over 128 KB with PayloadTooLargeException", async () => {
    const client = await connect(stack, "Large", "mgmt");
    const id = await connectionIdOf("Large", "mgmt");
    const error = await management
      .send(new PostToConnectionCommand({ ConnectionId: id, Data: "x".repeat(128 * 1024 + 1) }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeException);
    await client.close();
  });

  it("answers alike on the stack's own port, beside the management API's own thread", async () => {
    expect(new URL(stack.managementEndpoint).port).not.toBe(new URL(stack.url).port);
    const onStackPort = new ApiGatewayManagementApiClient({
      endpoint: `${stack.url}/local`,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    const client = await connect(stack, "Port", "mgmt");
    const id = await connectionIdOf("Port", "mgmt");

    await onStackPort.send(new PostToConnectionCommand({ ConnectionId: id, Data: '{"type":"pong","timestamp":2}' }));
    const gone = await onStackPort
      .send(new PostToConnectionCommand({ ConnectionId: "NoSuchConnId=", Data: "{}" }))
      .catch((e: unknown) => e);

    expect(await client.ofType("pong")).toEqual({ type: "pong", timestamp: 2 });
    expect(gone).toBeInstanceOf(GoneException);
    onStackPort.destroy();
    await client.close();
  });

  it("closes the socket on DeleteConnection and fires $disconnect", async () => {
    const lucy = await connect(stack, "Lucy", "delete-test");
    const bob = await connect(stack, "Bob", "delete-test");
    await lucy.ofType("system");
    await management.send(new DeleteConnectionCommand({ ConnectionId: await connectionIdOf("Bob", "delete-test") }));
    expect((await bob.closed).code).toBe(1000);
    expect(await lucy.ofType("system")).toMatchObject({ message: "Bob disconnected" });
    await lucy.close();
  });

  it("answers GET, POST and DELETE with 410 from the moment DeleteConnection starts the close, before the client answers it", async () => {
    const { status, socket } = await rawUpgrade(stack, "Mute", "gone-test", handshakeHeaders());
    expect(status).toBe(101);
    const id = await connectionIdOf("Mute", "gone-test");
    expect(await describeConnection(id)).toBe("live");
    await management.send(new DeleteConnectionCommand({ ConnectionId: id }));
    // The client never answers the close, so ws would keep the socket for 30 s: to API Gateway it is gone already.
    expect(await describeConnection(id)).toBe("gone");
    await expect(management.send(new DeleteConnectionCommand({ ConnectionId: id }))).rejects.toBeInstanceOf(
      GoneException,
    );
    await expect(management.send(new PostToConnectionCommand({ ConnectionId: id, Data: "{}" }))).rejects.toBeInstanceOf(
      GoneException,
    );
    expect(stack.gateway.connections.has(id)).toBe(true); // still closing: $disconnect has not run
    socket.destroy();
    await eventually(async () => !(await storedConnections(stack)).some((item) => item.connectionId === id));
  });
});

describe("opening handshake", () => {
  it("refuses an invalid upgrade with 400 before the authorizer, and runs no route for it", async () => {
    const lucy = await connect(stack, "Lucy", "upgrade-test");
    const spoiled: [string, Record<string, string>, string?][] = [
      ["a key that is not base64 of 16 bytes", { "Sec-WebSocket-Key": "not-a-key" }],
      ["a key of 15 bytes", { "Sec-WebSocket-Key": randomBytes(15).toString("base64") }],
      ["a version other than 13", { "Sec-WebSocket-Version": "8" }],
      ["a malformed subprotocol list", { "Sec-WebSocket-Protocol": "chat,,other" }],
      ["a duplicated subprotocol", { "Sec-WebSocket-Protocol": "chat, chat" }],
      ["an upgrade to another protocol", { Upgrade: "h2c" }],
      ["another method", {}, "POST"],
    ];
    const statuses: Record<string, number> = {};
    for (const [what, headers, method] of spoiled) {
      const upgrade = { ...handshakeHeaders(), ...headers };
      const { status, socket } = await rawUpgrade(stack, "Ghost", "upgrade-test", upgrade, method);
      socket.destroy();
      statuses[what] = status;
    }
    // Had $connect run, the ghost would be stored and listed, and nothing would ever run its $disconnect.
    lucy.send({ action: "who" });
    expect((await lucy.ofType("presence")).users).toEqual(["Lucy"]);
    expect((await storedConnections(stack)).filter((item) => item.username === "Ghost")).toEqual([]);
    expect([...stack.gateway.connections.values()].filter((c) => c.state === "connecting")).toEqual([]);
    expect(lucy.frames.filter((frame) => frame.type === "system")).toEqual([]);
    expect(statuses).toEqual(Object.fromEntries(spoiled.map(([what]) => [what, 400])));
    await lucy.close();
  });
});

/**
 * Stores a member directly, record and presence, as one left behind by a missed `$disconnect`; its TTL `ttlSeconds`
 * from now.
 */
async function storeMember(connectionId: string, channel: string, username: string, ttlSeconds: number) {
  const expiresAt = Math.floor(Date.now() / 1000) + ttlSeconds;
  await stack.documentClient.send(
    new PutCommand({
      TableName: stack.tables.connections,
      Item: { connectionId, channel, username, connectedAt: 0, expiresAt },
    }),
  );
  await new PresenceStore(stack.documentClient, stack.tables.presence).arrive(
    channel,
    username,
    connectionId,
    expiresAt,
  );
}

describe("stale connections", () => {
  it("removes a member whose $disconnect never ran after the next broadcast, and drops it from presence", async () => {
    const lucy = await connect(stack, "Lucy", "stale-test");
    // A connection API Gateway no longer has, as left by a missed $disconnect.
    await storeMember("GhostConnId=", "stale-test", "Ghost", 600);
    lucy.send({ action: "who" });
    expect((await lucy.ofType("presence")).users).toEqual(["Ghost", "Lucy"]);
    lucy.send("anyone there?");
    await lucy.ofType("message");
    await eventually(
      async () => !(await storedConnections(stack)).some((item) => item.connectionId === "GhostConnId="),
    );
    lucy.send({ action: "who" });
    expect((await lucy.ofType("presence")).users).toEqual(["Lucy"]);
    await lucy.close();
  });

  it("ignores a member whose TTL has passed even before DynamoDB deletes it", async () => {
    const lucy = await connect(stack, "Lucy", "ttl-test");
    await storeMember("ExpiredConn=", "ttl-test", "Expired", -1);
    lucy.send({ action: "who" });
    expect((await lucy.ofType("presence")).users).toEqual(["Lucy"]);
    await lucy.close();
  });
});

describe("API Gateway quotas", () => {
  it.each<[string, LocalStackOptions]>([
    ["idle timeout", { idleTimeoutMs: 1_000 }],
    ["maximum duration", { maxConnectionMs: 1_000 }],
  ])("answers 410 once the %s starts the close, though the client never answers it", async (_, options) => {
    const quotaStack = await startTestStack(options);
    const client = new ApiGatewayManagementApiClient({
      endpoint: quotaStack.managementEndpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    let socket: Socket | undefined;
    try {
      const upgraded = await rawUpgrade(quotaStack, "Quiet", "quota-test", handshakeHeaders());
      socket = upgraded.socket;
      expect(upgraded.status).toBe(101);
      const id = await connectionIdOf("Quiet", "quota-test", quotaStack);
      // ws waits 30 s for the client's answer to the close; GetConnection answers 410 well before.
      await eventually(async () => (await describeConnection(id, client)) === "gone");
      expect(quotaStack.gateway.connections.has(id)).toBe(true);
      socket.destroy();
      await eventually(async () => (await storedConnections(quotaStack)).length === 0);
    } finally {
      socket?.destroy();
      client.destroy();
      await quotaStack.close();
    }
  });

  it("takes a message of up to 128 KB in frames of at most 32 KB, and closes with 1009 on a larger frame or message", async () => {
    // One message in `frames` frames of `frameBytes` each, as a client splits it.
    const sendFrames = (client: Awaited<ReturnType<typeof connect>>, frames: number, frameBytes: number) => {
      for (let i = 0; i < frames; i++) client.socket.send("x".repeat(frameBytes), { fin: i === frames - 1 });
    };
    const lucy = await connect(stack, "Lucy", "frames-test");
    sendFrames(lucy, 4, 32 * 1024); // 128 KB: reaches $default, which refuses a chat message that long
    expect(await lucy.ofType("error")).toMatchObject({ code: "too_large" });
    sendFrames(lucy, 1, 32 * 1024 + 1);
    expect((await lucy.closed).code).toBe(1009);

    const bob = await connect(stack, "Bob", "frames-test");
    sendFrames(bob, 5, 32 * 1024);
    expect((await bob.closed).code).toBe(1009);
  });

  it("closes an idle connection (timeout shortened for the test) and fires $disconnect", async () => {
    const idleStack = await startTestStack({ idleTimeoutMs: 1_000 });
    try {
      const client = await connect(idleStack, "Idle", "idle-test");
      expect((await client.closed).code).toBe(1001);
      await eventually(async () => (await storedConnections(idleStack)).length === 0);
    } finally {
      await idleStack.close();
    }
  });

  it("closes every connection at the maximum duration (shortened for the test)", async () => {
    const shortStack = await startTestStack({ maxConnectionMs: 800 });
    try {
      // Idle connections close after 10 minutes here, so only the maximum duration can close this one. (No round
      // trip on it: on a loaded machine the 800 ms could end before its answer arrives.)
      const client = await connect(shortStack, "Long", "long-test");
      expect((await client.closed).code).toBe(1001);
      await eventually(async () => (await storedConnections(shortStack)).length === 0);
    } finally {
      await shortStack.close();
    }
  });
});
