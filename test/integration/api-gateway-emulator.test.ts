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
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws.ts";
import type { LocalStack } from "../../local/local-stack.ts";
import { connect, eventually, startTestStack, storedConnections } from "./harness.ts";

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
async function connectionIdOf(username: string, channel: string): Promise<string> {
  let id: string | undefined;
  await eventually(async () => {
    id = (await storedConnections(stack)).find((item) => item.username === username && item.channel === channel)
      ?.connectionId as string | undefined;
    return id !== undefined;
  });
  return id as string;
}

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
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9+/]{15}=$/);
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
