import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer } from "ws";
import { limits } from "../lambda/core/limits.ts";
import type { CoreLogger } from "../lambda/core/logger.ts";
import {
  type ApiIdentity,
  authorizerEvent,
  type ConnectionFacts,
  connectEvent,
  disconnectEvent,
  messageEvent,
  newConnectionId,
  newRequestId,
} from "./api-gateway-events.ts";
import { ConcurrencyLimit } from "./concurrency-limit.ts";

/** A Lambda handler as the emulator invokes it: one event in, one result out. */
// biome-ignore lint/suspicious/noExplicitAny: handlers take API Gateway's event shapes, each its own.
export type LambdaHandler = (event: any) => Promise<any>;

/** The API's integrations, keyed as in API Gateway. */
export interface GatewayRoutes {
  /** The `$connect` REQUEST authorizer. */
  readonly authorizer?: LambdaHandler;
  /**
   * The authorizer's identity sources, as CDK writes them (`route.request.querystring.token`,
   * `route.request.header.Auth`): when one is missing or empty API Gateway answers 401 without calling the
   * authorizer. Default: none, so the authorizer is called for every handshake.
   */
  readonly identitySources?: readonly string[];
  readonly $connect?: LambdaHandler;
  readonly $disconnect?: LambdaHandler;
  readonly $default?: LambdaHandler;
  /** Routes with a route response: their result `body` (empty without one) is sent back to the sender (two-way). */
  readonly returnResponse?: readonly string[];
}

/** Options of the emulator; the defaults are API Gateway's quotas. */
export interface GatewayOptions extends ApiIdentity {
  /** Idle connections are closed after this. Default: 10 minutes. */
  readonly idleTimeoutMs?: number;
  /** Every connection is closed after this. Default: 2 hours. */
  readonly maxConnectionMs?: number;
  /** Integrations running at once; more wait for a free one. Default: 64. */
  readonly maxConcurrentInvocations?: number;
  /** A larger frame closes the connection with 1009. Default: 32 KiB. */
  readonly maxFrameBytes?: number;
  /** A larger message (the sum of its frames) closes the connection with 1009. Default: 128 KiB. */
  readonly maxMessageBytes?: number;
  readonly logger: CoreLogger;
}

/**
 * `closing`: the server has started the close (DeleteConnection, idle or maximum duration, 1003, 1009) and waits
 * for the client's answer, up to ws's 30 s; to the management API the connection is already gone.
 */
type ConnectionState = "connecting" | "open" | "closing" | "closed";

/** One connection: what API Gateway knows of it. */
export interface GatewayConnection extends ConnectionFacts {
  state: ConnectionState;
  lastActiveAt: number;
  socket?: WebSocket;
  authorizer?: Record<string, unknown>;
}

/** API Gateway's message payload quota: a message of several frames may be this large. */
const MAX_MESSAGE_BYTES = 128 * 1024;

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  500: "Internal Server Error",
};

/** Answers a handshake the way API Gateway refuses one, and drops the socket. */
function refuseHandshake(socket: Duplex, status: number): void {
  const text = STATUS_TEXT[status] ?? "Error";
  const body = JSON.stringify({ message: text });
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `x-amzn-RequestId: ${newRequestId()}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** RFC 6455 §4.1: the nonce is 16 random bytes in (standard) base64. */
const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;
/** `Sec-WebSocket-Protocol`: a comma-separated list of RFC 7230 tokens, as ws parses it. */
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const PROTOCOL_LIST = new RegExp(`^${TOKEN}(?:[ \\t]*,[ \\t]*${TOKEN})*$`);

/**
 * Whether an upgrade request is a valid WebSocket opening handshake (RFC 6455 §4.2.1): API Gateway refuses any other
 * with 400 and runs no route for it, neither the authorizer nor `$connect`. Checked before them, at least as strictly
 * as ws checks it afterwards, so ws never refuses (without calling back) a connection `$connect` has accepted.
 */
function validUpgrade(request: IncomingMessage): boolean {
  const { upgrade, "sec-websocket-key": key, "sec-websocket-version": version } = request.headers;
  const protocols = request.headers["sec-websocket-protocol"];
  if (request.method !== "GET" || upgrade?.toLowerCase() !== "websocket" || version !== "13") return false;
  if (key === undefined || !WEBSOCKET_KEY.test(key)) return false;
  if (protocols === undefined) return true;
  const names = protocols.split(",").map((name) => name.trim());
  return PROTOCOL_LIST.test(protocols) && new Set(names).size === names.length;
}

/**
 * The frame headers (RFC 6455 §5.2) of what a client sends, read beside ws, which bounds only whole messages: finds
 * the first data frame over the frame quota and the message it belongs to.
 */
class FrameSizes {
  /** Complete data messages so far: ws's `message` events, counted alike. */
  private messages = 0;
  private readonly header = Buffer.alloc(14);
  private headerLength = 0;
  private payloadLeft = 0;
  /** The index of the message holding the first frame over the quota, once one came. */
  oversized?: number;

  constructor(private readonly maxFrameBytes: number) {}

  /** Reads a chunk of the stream; true when it holds the first oversized frame. */
  read(chunk: Buffer): boolean {
    let offset = 0;
    while (offset < chunk.length && this.oversized === undefined) {
      if (this.payloadLeft > 0) {
        const skipped = Math.min(this.payloadLeft, chunk.length - offset);
        this.payloadLeft -= skipped;
        offset += skipped;
        continue;
      }
      this.header[this.headerLength++] = chunk[offset++] as number;
      if (this.headerLength < 2) continue;
      const [first = 0, second = 0] = this.header;
      const shortLength = second & 0x7f; // 126: a 16-bit length follows, 127: a 64-bit one
      const lengthBytes = shortLength === 126 ? 2 : shortLength === 127 ? 8 : 0;
      if (this.headerLength < 2 + lengthBytes + (second & 0x80 ? 4 : 0)) continue; // then the masking key
      const length =
        lengthBytes === 2
          ? this.header.readUInt16BE(2)
          : lengthBytes === 8
            ? Number(this.header.readBigUInt64BE(2))
            : shortLength;
      const data = (first & 0x08) === 0; // opcodes 0x8 and up are control frames, at most 125 bytes
      if (data && length > this.maxFrameBytes) {
        this.oversized = this.messages;
        return true;
      }
      if (data && first & 0x80) this.messages++;
      this.payloadLeft = length;
      this.headerLength = 0;
    }
    return false;
  }
}

/** An IAM pattern (`*` any run of characters, `?` one) as a whole-string regular expression. */
const iamPattern = (pattern: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );

const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

/**
 * What API Gateway makes of a Lambda authorizer's answer for the `$connect` method ARN ("Output from an API Gateway
 * Lambda authorizer"; "Statement reference of IAM policies for executing API in API Gateway"): a statement applies
 * when one of its actions matches `execute-api:Invoke` and one of its resources the method ARN, with IAM's wildcards;
 * an applying Deny wins, then an applying Allow lets the connection in, and nothing applying refuses it (403). An
 * answer without a principal or a policy, or whose context holds anything but strings, numbers and booleans (nested
 * data is refused: AuthorizerConfigurationException), is a configuration error: 500.
 */
function policyDecision(result: unknown, methodArn: string): "allow" | 403 | 500 {
  const answer = result as {
    principalId?: unknown;
    policyDocument?: { Statement?: unknown };
    context?: unknown;
  } | null;
  const statements = answer?.policyDocument?.Statement;
  if (typeof answer?.principalId !== "string" || !Array.isArray(statements)) return 500;
  const context = answer.context;
  if (context !== undefined && context !== null) {
    if (typeof context !== "object" || Array.isArray(context)) return 500;
    for (const value of Object.values(context)) if (!["string", "number", "boolean"].includes(typeof value)) return 500;
  }
  const applies = (statement: { Action?: unknown; Resource?: unknown }) =>
    asList(statement.Action).some(
      (action) => typeof action === "string" && iamPattern(action).test("execute-api:Invoke"),
    ) &&
    asList(statement.Resource).some((resource) => typeof resource === "string" && iamPattern(resource).test(methodArn));
  const effects = (statements as { Effect?: unknown; Action?: unknown; Resource?: unknown }[])
    .filter((statement) => statement !== null && typeof statement === "object" && applies(statement))
    .map((statement) => statement.Effect);
  if (effects.includes("Deny")) return 403;
  return effects.includes("Allow") ? "allow" : 403;
}

/**
 * The authorizer's context as later events carry it: every value a string ("numberKey": "1", "booleanKey": "true" in
 * AWS's own example of the output), so a handler that reads a number from it locally would break on AWS.
 */
const stringContext = (context: unknown): Record<string, string> =>
  Object.fromEntries(
    Object.entries((context as Record<string, unknown> | undefined) ?? {}).map(([key, value]) => [key, String(value)]),
  );

/** Whether one identity source (`route.request.querystring.X` or `route.request.header.X`) is present and non-empty. */
function identityPresent(source: string, request: IncomingMessage): boolean {
  const [, kind, name] = /^route\.request\.(querystring|header)\.(.+)$/.exec(source) ?? [];
  if (!kind || !name) throw new Error(`unsupported identity source: ${source}`);
  if (kind === "querystring") return Boolean(new URL(request.url ?? "/", "http://localhost").searchParams.get(name));
  return Boolean(request.headers[name.toLowerCase()]);
}

const isSuccess = (result: unknown): boolean => {
  const status = (result as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === "number" && status >= 200 && status < 300;
};

/**
 * An API Gateway WebSocket API on `ws`: the authorizer and `$connect` decide the handshake, frames go to their route,
 * a close fires `$disconnect`, and the quotas (frame size, idle timeout, maximum duration) hold as on AWS.
 */
export class WebSocketGateway {
  readonly connections = new Map<string, GatewayConnection>();
  /** Integrations still running, awaited on close so no handler outlives the stack. */
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly server: WebSocketServer;
  private readonly idleTimeoutMs: number;
  private readonly maxConnectionMs: number;
  private readonly instances: ConcurrencyLimit;

  constructor(
    private readonly routes: GatewayRoutes,
    private readonly options: GatewayOptions,
  ) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? 10 * 60_000;
    this.maxConnectionMs = options.maxConnectionMs ?? 2 * 3_600_000;
    this.instances = new ConcurrencyLimit(options.maxConcurrentInvocations ?? 64);
    this.server = new WebSocketServer({
      noServer: true,
      // ws bounds whole messages; the frame quota is FrameSizes's.
      maxPayload: options.maxMessageBytes ?? MAX_MESSAGE_BYTES,
      perMessageDeflate: false,
      // API Gateway selects the subprotocol that $connect returned in Sec-WebSocket-Protocol, and none otherwise.
      handleProtocols: (_offered, request) =>
        (request as IncomingMessage & { selectedProtocol?: string }).selectedProtocol ?? false,
    });
  }

  /** Handles an HTTP upgrade: authorizer, then `$connect`, then the WebSocket handshake. */
  async handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on("error", () => {}); // a client that hangs up mid-handshake is not our error
    if (!validUpgrade(request)) return refuseHandshake(socket, 400);
    const connection: GatewayConnection = {
      connectionId: newConnectionId(),
      connectedAt: Date.now(),
      lastActiveAt: Date.now(),
      sourceIp: request.socket.remoteAddress?.replace(/^::ffff:/, "") ?? "127.0.0.1",
      userAgent: request.headers["user-agent"] ?? "",
      state: "connecting",
    };
    let clientGone = false;
    socket.once("close", () => {
      clientGone = true;
    });

    const authorized = await this.authorize(connection, request);
    if (authorized !== "allow") return refuseHandshake(socket, authorized);

    this.connections.set(connection.connectionId, connection);
    const connectResult = await this.invoke(
      "$connect",
      connectEvent(this.options, connection, request, connection.authorizer),
    );
    if (!isSuccess(connectResult)) {
      this.connections.delete(connection.connectionId);
      const status = (connectResult as { statusCode?: number } | undefined)?.statusCode;
      return refuseHandshake(socket, typeof status === "number" ? status : 500);
    }
    if (clientGone) return this.closed(connection, 1006, "");
    const headers = (connectResult as { headers?: Record<string, string> }).headers ?? {};
    const protocol = Object.entries(headers).find(([name]) => name.toLowerCase() === "sec-websocket-protocol")?.[1];
    Object.assign(request, { selectedProtocol: protocol });
    this.server.handleUpgrade(request, socket, head, (ws) => this.opened(connection, ws, socket));
    // ws refuses a handshake checked above only when the client has just gone (it then destroys the socket and never
    // calls back): the connection ends as any dropped one does, rather than staying `connecting`.
    socket.once("close", () => {
      if (connection.state === "connecting") void this.closed(connection, 1006, "");
    });
  }

  private async authorize(connection: GatewayConnection, request: IncomingMessage): Promise<"allow" | 401 | 403 | 500> {
    const { authorizer } = this.routes;
    if (!authorizer) return "allow";
    if (!(this.routes.identitySources ?? []).every((source) => identityPresent(source, request))) return 401;
    try {
      const event = authorizerEvent(this.options, connection, request);
      const result = await authorizer(event);
      const decision = policyDecision(result, event.methodArn);
      if (decision !== "allow") {
        if (decision === 500) this.options.logger.error("authorizer answered an invalid policy or context", { result });
        return decision;
      }
      connection.authorizer = { ...stringContext(result.context), principalId: result.principalId };
      return "allow";
    } catch (error) {
      if (error instanceof Error && error.message === "Unauthorized") return 401;
      this.options.logger.error("authorizer failed", { error });
      return 500;
    }
  }

  /** Runs a route's integration; `undefined` when it failed (threw), as API Gateway sees a failed invocation. */
  private invoke(routeKey: "$connect" | "$disconnect" | "$default", event: unknown): Promise<unknown> {
    const handler = this.routes[routeKey];
    if (!handler) return Promise.resolve({ statusCode: 200 });
    // In the cloud every invocation has its own instance and memory; in one process, a thousand concurrent fan-outs
    // would hold every pending post at once, so invocations beyond the limit wait their turn, as they would for a
    // function with reserved concurrency whose throttled invocations are retried.
    // Invocations wait their turn by connection (see ConcurrencyLimit): one flooding client cannot queue ahead of all.
    const key = (event as { requestContext?: { connectionId?: string } }).requestContext?.connectionId;
    const run = this.instances
      .acquire(key)
      .then(() => handler(event))
      .catch((error: unknown) => {
        this.options.logger.error("integration failed", { routeKey, error });
        return undefined;
      })
      .finally(() => this.instances.release());
    this.inflight.add(run);
    void run.finally(() => this.inflight.delete(run));
    return run;
  }

  private opened(connection: GatewayConnection, ws: WebSocket, socket: Duplex): void {
    connection.socket = ws;
    connection.state = "open";
    const goAway = () => this.closeConnection(connection, 1001, "Going away");
    let idle = setTimeout(goAway, this.idleTimeoutMs);
    const lifetime = setTimeout(goAway, this.maxConnectionMs);
    // "A message larger than 32 KB must be split into multiple frames, each 32 KB or smaller" (Amazon API Gateway
    // quotas for configuring and running a WebSocket API): a larger frame closes the connection with 1009, even in a
    // message under the 128 KB ws enforces. Read before ws reads the same bytes; the close waits until ws has routed
    // the messages before the oversized one in the same chunk.
    const frames = new FrameSizes(this.options.maxFrameBytes ?? limits.frameMaxBytes);
    const tooBig = () => this.closeConnection(connection, 1009, "Message too big");
    socket.prependListener("data", (chunk: Buffer) => {
      if (frames.read(chunk)) process.nextTick(tooBig);
    });
    let messages = 0;
    ws.on("message", (data: Buffer, isBinary) => {
      const index = messages++;
      // API Gateway refuses binary frames in incoming messages: it disconnects the client with 1003 and invokes no
      // route ("Binary media types for WebSocket APIs in API Gateway"); `$disconnect` then runs as for any close.
      if (ws.readyState !== WebSocket.OPEN) return; // frames that arrive after the close began reach no route
      if (index === frames.oversized) return tooBig();
      if (isBinary) return this.closeConnection(connection, 1003, "Binary frames are not supported");
      connection.lastActiveAt = Date.now();
      clearTimeout(idle);
      idle = setTimeout(goAway, this.idleTimeoutMs);
      void this.message(connection, data);
    });
    // e.g. a message over the quota: ws has begun closing with 1009 when it reports it here.
    ws.on("error", () => {
      if (connection.state === "open") connection.state = "closing";
    });
    ws.once("close", (code, reason) => {
      clearTimeout(idle);
      clearTimeout(lifetime);
      void this.closed(connection, code, reason.toString("utf8"));
    });
  }

  private async message(connection: GatewayConnection, data: Buffer): Promise<void> {
    const event = messageEvent(this.options, connection, "$default", data.toString("utf8"), connection.authorizer);
    const result = await this.invoke("$default", event);
    const socket = connection.socket;
    if (socket?.readyState !== WebSocket.OPEN) return;
    if (result === undefined) {
      // What API Gateway sends the client when the integration fails.
      const { connectionId, requestId } = event.requestContext;
      socket.send(JSON.stringify({ message: "Internal server error", connectionId, requestId }));
    } else if (this.routes.returnResponse?.includes("$default")) {
      // A two-way route sends something for every invocation: a result without a body still reaches the client, as
      // an empty frame (reported in https://github.com/serverless/serverless/issues/6816), whatever its status.
      const body = (result as { body?: unknown }).body;
      socket.send(typeof body === "string" ? body : "");
    }
  }

  /**
   * Starts closing a connection from the server's side. From then on it is gone to the management API, whose POST,
   * GET and DELETE answer 410 GoneException for a connection that has been terminated ("Use @connections commands in
   * your backend service",
   * https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-how-to-call-websocket-api-connections.html;
   * https://repost.aws/knowledge-center/410-gone-api-gateway), even while ws waits, up to 30 s, for the client to
   * answer the close. `$disconnect` runs once the socket has closed.
   */
  closeConnection(connection: GatewayConnection, code: number, reason: string): void {
    if (connection.state === "open") connection.state = "closing";
    connection.socket?.close(code, reason);
  }

  private async closed(connection: GatewayConnection, code: number, reason: string): Promise<void> {
    if (connection.state === "closed") return;
    connection.state = "closed";
    this.connections.delete(connection.connectionId);
    await this.invoke("$disconnect", disconnectEvent(this.options, connection, connection.authorizer, code, reason));
  }

  /**
   * The connection a management call may address: open ones only. During `$connect` API Gateway answers 410, and so
   * it does once the close has begun, by the server (see {@link closeConnection}) or by the client.
   */
  live(connectionId: string): GatewayConnection | undefined {
    const connection = this.connections.get(connectionId);
    return connection?.state === "open" && connection.socket?.readyState === WebSocket.OPEN ? connection : undefined;
  }

  /** Closes every connection (each fires `$disconnect`) and stops accepting new ones. */
  async close(): Promise<void> {
    const open = [...this.connections.values()];
    for (const connection of open) this.closeConnection(connection, 1001, "Going away");
    await Promise.all(
      open.map((connection) =>
        connection.socket && connection.socket.readyState !== WebSocket.CLOSED
          ? new Promise((resolve) => connection.socket?.once("close", resolve))
          : undefined,
      ),
    );
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
    this.server.close();
  }
}
