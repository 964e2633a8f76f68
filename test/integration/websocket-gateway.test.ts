import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { silentLogger } from "../../lambda/core/logger.ts";
import { ConcurrencyLimit } from "../../local/concurrency-limit.ts";
import { type GatewayRoutes, WebSocketGateway } from "../../local/websocket-gateway.ts";
import { eventually, openSocket } from "./harness.ts";

// The emulator on its own, with recording integrations in place of the chat's handlers.
let server: Server;
let gateway: WebSocketGateway;
// biome-ignore lint/suspicious/noExplicitAny: recorded events are API Gateway's loose shapes, asserted field by field.
const events: { route: string; event: any }[] = [];

async function start(routes: Partial<GatewayRoutes>): Promise<string> {
  const record =
    (route: string, result: unknown = { statusCode: 200 }) =>
    async (event: unknown) => {
      events.push({ route, event });
      return result;
    };
  gateway = new WebSocketGateway(
    { $connect: record("$connect"), $default: record("$default"), $disconnect: record("$disconnect"), ...routes },
    { apiId: "testapi", stage: "test", domainName: "localhost", logger: silentLogger },
  );
  server = createServer();
  server.on("upgrade", (request, socket, head) => void gateway.handleUpgrade(request, socket, head));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

afterEach(async () => {
  await gateway.close();
  await new Promise((resolve) => server.close(resolve));
  events.length = 0;
});

const allow = (context: Record<string, unknown>) => async () => ({
  principalId: "Lucy",
  policyDocument: {
    Version: "2012-10-17",
    Statement: [{ Action: "execute-api:Invoke", Effect: "Allow", Resource: "*" }],
  },
  context,
});

const status = (url: string, protocols?: string[]) =>
  openSocket(url, protocols).then(
    async (client) => {
      await client.close();
      return 101;
    },
    (error: { status?: number }) => error.status,
  );

describe("API Gateway WebSocket emulator", () => {
  it("answers 401 without calling the authorizer when the identity source is missing", async () => {
    let called = false;
    const url = await start({
      identitySources: ["route.request.querystring.token"],
      authorizer: async () => {
        called = true;
        return allow({})();
      },
    });
    expect(await status(`${url}?channel=x`)).toBe(401);
    expect(called).toBe(false);
  });

  it("maps an Unauthorized error to 401, a Deny to 403 and any other authorizer error to 500", async () => {
    let outcome: "unauthorized" | "deny" | "crash" = "unauthorized";
    const url = await start({
      authorizer: async () => {
        if (outcome === "unauthorized") throw new Error("Unauthorized");
        if (outcome === "crash") throw new Error("boom");
        return { principalId: "x", policyDocument: { Version: "2012-10-17", Statement: [{ Effect: "Deny" }] } };
      },
    });
    expect(await status(`${url}?token=t`)).toBe(401);
    outcome = "deny";
    expect(await status(`${url}?token=t`)).toBe(403);
    outcome = "crash";
    expect(await status(`${url}?token=t`)).toBe(500);
    expect(events.filter((entry) => entry.route === "$connect")).toEqual([]);
  });

  it("lets in only a policy whose Allow applies to the $connect method ARN and no Deny does, as IAM evaluates it", async () => {
    const arn = "arn:aws:execute-api:local:000000000000:testapi/test/$connect";
    let statements: unknown[] = [];
    const url = await start({
      authorizer: async () => ({
        principalId: "Lucy",
        policyDocument: { Version: "2012-10-17", Statement: statements },
      }),
    });
    const invoke = (Effect: string, Resource: unknown, Action: unknown = "execute-api:Invoke") => ({
      Effect,
      Action,
      Resource,
    });
    const cases: [unknown[], number][] = [
      [[invoke("Allow", arn)], 101],
      [[invoke("Allow", "arn:aws:execute-api:*:*:testapi/*/$connect")], 101],
      [
        [
          invoke(
            "Allow",
            ["arn:aws:execute-api:local:000000000000:other/*", "arn:aws:execute-api:?ocal:*"],
            ["execute-api:*"],
          ),
        ],
        101,
      ],
      // Another stage, another API, a REST-style method, another action: nothing applies.
      [[invoke("Allow", "arn:aws:execute-api:local:000000000000:testapi/prod/$connect")], 403],
      [[invoke("Allow", "arn:aws:execute-api:local:000000000000:other/test/$connect")], 403],
      [[invoke("Allow", "arn:aws:execute-api:local:000000000000:testapi/test/GET/")], 403],
      [[invoke("Allow", arn, "execute-api:ManageConnections")], 403],
      // A Deny that applies wins over any Allow.
      [[invoke("Allow", "*"), invoke("Deny", arn)], 403],
      [[], 403],
    ];
    for (const [given, expected] of cases) {
      statements = given;
      expect(await status(`${url}?token=t`), JSON.stringify(given)).toBe(expected);
    }
  });

  it("answers 500 to an authorizer answer without a principal or a policy, or with nested context, running no route", async () => {
    let answer: unknown;
    const url = await start({ authorizer: async () => answer });
    const policyDocument = {
      Version: "2012-10-17",
      Statement: [{ Action: "execute-api:Invoke", Effect: "Allow", Resource: "*" }],
    };
    for (const bad of [
      { policyDocument },
      { principalId: "Lucy" },
      { principalId: "Lucy", policyDocument: {} },
      { principalId: "Lucy", policyDocument, context: { user: { id: 3 } } },
      { principalId: "Lucy", policyDocument, context: { roles: ["admin"] } },
    ]) {
      answer = bad;
      expect(await status(`${url}?token=t`), JSON.stringify(bad)).toBe(500);
    }
    expect(events.filter((entry) => entry.route === "$connect")).toEqual([]);
  });

  it("hands later events the context's numbers and booleans as strings, as AWS's example of the output shows them", async () => {
    const url = await start({ authorizer: allow({ username: "Lucy", level: 3, admin: false }) });
    const client = await openSocket(`${url}?token=t`);
    client.send("hello");
    await eventually(() => events.some((entry) => entry.route === "$default"));
    await client.close();
    const message = events.find((entry) => entry.route === "$default")?.event;
    expect(message.requestContext.authorizer).toEqual({
      username: "Lucy",
      level: "3",
      admin: "false",
      principalId: "Lucy",
    });
  });

  it("refuses the handshake with the status of a $connect result outside 2xx", async () => {
    const url = await start({ $connect: async () => ({ statusCode: 400 }) });
    expect(await status(url)).toBe(400);
  });

  it("hands the authorizer's context to every later event, in API Gateway's event shapes", async () => {
    const url = await start({ authorizer: allow({ username: "Lucy", channel: "support" }) });
    const client = await openSocket(`${url}?token=t&channel=support`);
    client.send("hello");
    await eventually(() => events.some((entry) => entry.route === "$default"));
    client.socket.close(4000, "bye");
    await eventually(() => events.some((entry) => entry.route === "$disconnect"));
    const [connect, message, disconnect] = ["$connect", "$default", "$disconnect"].map(
      (route) => events.find((entry) => entry.route === route)?.event,
    );
    const authorizer = { username: "Lucy", channel: "support", principalId: "Lucy" };
    expect(connect.queryStringParameters).toEqual({ token: "t", channel: "support" });
    expect(message).toEqual({
      requestContext: expect.objectContaining({
        routeKey: "$default",
        eventType: "MESSAGE",
        connectionId: connect.requestContext.connectionId,
        domainName: "localhost",
        stage: "test",
        apiId: "testapi",
        requestId: expect.any(String),
        messageId: expect.any(String),
        connectedAt: expect.any(Number),
        requestTimeEpoch: expect.any(Number),
        identity: expect.objectContaining({ sourceIp: "127.0.0.1" }),
        authorizer,
      }),
      body: "hello",
      isBase64Encoded: false,
    });
    expect(disconnect.requestContext).toMatchObject({
      eventType: "DISCONNECT",
      disconnectStatusCode: 4000,
      disconnectReason: "bye",
      authorizer,
    });
  });

  it("closes the connection with 1003 on a binary frame, invokes no route for it or after it, and runs $disconnect", async () => {
    const url = await start({});
    const client = await openSocket(url);
    client.socket.send(Buffer.from([1, 2, 3]));
    client.send("sent right behind the binary frame");
    expect((await client.closed).code).toBe(1003);
    await eventually(() => events.some((entry) => entry.route === "$disconnect"));
    expect(events.map((entry) => entry.route)).toEqual(["$connect", "$disconnect"]);
    expect(events[1]?.event.requestContext).toMatchObject({ eventType: "DISCONNECT", disconnectStatusCode: 1003 });
    expect(gateway.connections.size).toBe(0);
  });

  it("sends the client API Gateway's error frame when an integration fails", async () => {
    const url = await start({
      $default: async () => {
        throw new Error("crash");
      },
    });
    const client = await openSocket(url);
    const received = new Promise<string>((resolve) =>
      client.socket.once("message", (data) => resolve(data.toString())),
    );
    client.send("hello");
    expect(JSON.parse(await received)).toEqual({
      message: "Internal server error",
      connectionId: expect.any(String),
      requestId: expect.any(String),
    });
    await client.close();
  });

  it("sends a route's result body back only when the route has a route response", async () => {
    const handled: string[] = [];
    const echo = async (event: { body: string }) => {
      handled.push(event.body);
      return { statusCode: 200, body: `{"echo":"${event.body}"}` };
    };
    const url = await start({ $default: echo });
    const client = await openSocket(url);
    client.send("one-way"); // no route response: the body is dropped
    await eventually(() => handled.length === 1);
    // The client's close reaches the emulator after the integration's answer, so a reply would arrive before it.
    await new Promise((resolve) => setImmediate(resolve));
    await client.close();
    expect(handled).toEqual(["one-way"]);
    expect(client.frames).toEqual([]);
    await gateway.close();
    await new Promise((resolve) => server.close(resolve));

    const twoWayUrl = await start({ $default: echo, returnResponse: ["$default"] });
    const twoWayClient = await openSocket(twoWayUrl);
    twoWayClient.send("hello");
    expect(await twoWayClient.next(() => true)).toEqual({ echo: "hello" });
    await twoWayClient.close();
  });

  it("sends an empty frame for a two-way route's result without a body, as API Gateway does", async () => {
    const url = await start({ $default: async () => ({ statusCode: 200 }), returnResponse: ["$default"] });
    const socket = new WebSocket(url);
    await new Promise((resolve) => socket.once("open", resolve));
    const received = new Promise<string>((resolve) => socket.once("message", (data) => resolve(String(data))));
    socket.send("no answer");
    expect(await received).toBe("");
    socket.close();
  });

  it("selects the subprotocol $connect returns, and none otherwise, so a browser would drop the connection", async () => {
    const url = await start({
      $connect: async () => ({ statusCode: 200, headers: { "Sec-WebSocket-Protocol": "chat" } }),
    });
    const client = await openSocket(url, ["chat", "other"]);
    expect(client.socket.protocol).toBe("chat");
    await client.close();
    await gateway.close();
    await new Promise((resolve) => server.close(resolve));

    const plain = await start({});
    const error = await new Promise<Error>((resolve) => {
      const socket = new WebSocket(plain, ["chat"]);
      socket.once("error", resolve);
    });
    expect(error.message).toMatch(/subprotocol/i);
  });
});

describe("integration concurrency", () => {
  it("runs at most the configured number of integrations at once and queues the rest in order", async () => {
    const limit = new ConcurrencyLimit(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        await limit.acquire();
        running++;
        peak = Math.max(peak, running);
        order.push(i);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
        limit.release();
      }),
    );
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(() => new ConcurrencyLimit(0)).toThrow(RangeError);
  });
  it("lets keys take turns: a key with many waiters delays another key's waiter by one turn only", async () => {
    const limit = new ConcurrencyLimit(1);
    await limit.acquire("held");
    const order: string[] = [];
    const waiter = async (key: string, label: string) => {
      await limit.acquire(key);
      order.push(label);
      limit.release();
    };
    const flood = Array.from({ length: 5 }, (_, i) => waiter("flooder", `f${i}`));
    const others = [waiter("lucy", "lucy"), waiter("bob", "bob"), waiter("flooder", "f5")];
    limit.release();
    await Promise.all([...flood, ...others]);
    expect(order).toEqual(["f0", "lucy", "bob", "f1", "f2", "f3", "f4", "f5"]);
  });
});
