import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { CoreLogger } from "../lambda/core/logger.ts";
import { documentClient } from "../lambda/runtime/aws-clients.ts";
import { startDynamoFaultProxy } from "./dynamo-faults.ts";
import { type FaultOptions, Faults } from "./faults.ts";
import { httpOrigin } from "./http-origin.ts";
import { InProcessSegmentQueue } from "./in-process-segment-queue.ts";
import { createLambdaFunctions, type FunctionConfig, type FunctionHooks } from "./lambda-functions.ts";
import { LambdaThread } from "./lambda-thread.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./local-aws.ts";
import { createTables, type LocalDynamo, type LocalTableNames, startLocalDynamo } from "./local-dynamo.ts";
import { LocalEventBus, serveLocalEvents } from "./local-events.ts";
import { consoleLogger } from "./local-logger.ts";
import { handleManagementRequest, KEEP_ALIVE_MS, managementAnswer, managementConnectionId } from "./management-api.ts";
import { ManagementThread } from "./management-thread.ts";
import { createDevOidcProvider } from "./oidc-provider.ts";
import { PUBLISH_BASE, servePublish } from "./publish-route.ts";
import { invokeHttpApi, securityHeaders, serveStatic, siteConfig } from "./site.ts";
import { type StreamProxy, startStreamProxy } from "./stream-events.ts";
import { StreamPoller } from "./stream-events-poller.ts";
import { WebSocketGateway } from "./websocket-gateway.ts";

/** Options of the local stack; PROTOCOL §6 names the environment variables `npm start` maps onto them. */
export interface LocalStackOptions {
  /** Port of the page, the session endpoint, the WebSocket and the management API. 0 picks a free one. Default: 3000. */
  readonly port?: number;
  /** Address to listen on. Default: 127.0.0.1. */
  readonly host?: string;
  /** Token signing secret (`CHAT_TOKEN_SECRET`). Default: a random one per start. */
  readonly tokenSecret?: string;
  /** Token lifetime in seconds (`CHAT_TOKEN_TTL`). Default: 1 hour. */
  readonly tokenTtlSeconds?: number;
  /** The largest channel, in users, with join and leave notices (`CHAT_PRESENCE_LIMIT`). Default: 100. */
  readonly presenceLimit?: number;
  /**
   * How people sign in (`CHAT_AUTH`): `guest` (pick a name) or `oidc`, which runs a development OpenID provider at
   * `{url}/oidc` (local/oidc-provider.ts) and has the session endpoint accept only its ID tokens. Default: guest.
   */
  readonly auth?: "guest" | "oidc";
  /** New sessions per minute per source IP (`CHAT_SESSION_RATE`). Default: no limit (every local client is 127.0.0.1). */
  readonly sessionRate?: number;
  /** Folder keeping the data across restarts (`CHAT_DATA_DIR`). Default: in memory. */
  readonly dataDir?: string;
  /** Folder of the built page. Default: none (only the APIs are served). */
  readonly webDir?: string;
  /** API Gateway's idle timeout. Default: 10 minutes. */
  readonly idleTimeoutMs?: number;
  /** API Gateway's maximum connection duration. Default: 2 hours. */
  readonly maxConnectionMs?: number;
  readonly logger?: CoreLogger;
  /**
   * A DynamoDB-compatible store to use instead of starting dynalite in this process (`CHAT_DYNAMODB_ENDPOINT`): the
   * tables are created there when missing; `dataDir` then does not apply. Default: none.
   */
  readonly dynamoEndpoint?: string;
  /**
   * Puts DynamoDB fault injection in front of `dynamoEndpoint` too, through a loopback proxy. Only for stores that do
   * not check signatures (DynamoDB Local, dynalite): requests reach the store signed for the proxy's host. Default: false.
   */
  readonly dynamoFaultProxy?: boolean;
  /** The tables' names, e.g. for several stacks on one store. Default: `chat-connections`, `chat-history`, `chat-presence`, `chat-rates`, `chat-members`. */

  readonly tables?: LocalTableNames;
  /** Broadcast workers running at once for large channels' segments. Default: 4. */
  readonly broadcastWorkers?: number;
  /** Faults to inject from the start; `stack.faults.options` changes them later. Default: none. */
  readonly faults?: FaultOptions;
  /**
   * Runs the functions (the handler modules with their DynamoDB and management API clients) in a worker thread, and
   * the management API's HTTP server in another, as on AWS neither shares API Gateway's CPU: the stack's thread keeps
   * the WebSocket emulator (and every decision the management API makes), the page and the store, and the stack uses
   * every core. `false` runs everything in this thread, e.g. to profile it as one. Faults, logs, the segment queue
   * and every answer behave the same either way. Default: true.
   */
  readonly workerThreads?: boolean;
  /**
   * Events out (PROTOCOL §8): the history and presence tables' streams emulated through a proxy in front of the store,
   * read by the events function, which puts the events on a local bus (`GET {url}/local/events`). Default: true.
   */
  readonly events?: boolean;
}

/** A running local stack. */
export interface LocalStack {
  /** The page, e.g. `http://127.0.0.1:3000`. */
  readonly url: string;
  readonly wsUrl: string;
  readonly sessionUrl: string;
  /** The development OpenID provider, when `auth` is `oidc`. */
  readonly oidc?: { readonly issuer: string; readonly clientId: string };
  /**
   * The management API endpoint the functions use (`https://{domainName}/{stage}` on AWS): with worker threads, the
   * management API's own thread and port. The stack's `url` answers management requests too, alike.
   */
  readonly managementEndpoint: string;
  readonly dynamoEndpoint: string;
  readonly tables: LocalTableNames;
  /** A document client on the local store, for inspection. */
  readonly documentClient: DynamoDBDocumentClient;
  readonly gateway: WebSocketGateway;
  /** The live fault injection settings and counts. */
  readonly faults: Faults;
  /** The stand-in for the segment queue and its workers. */
  readonly segments: InProcessSegmentQueue;
  /** `{url}/publish`: the local `PublishUrl` (PROTOCOL §8). */
  readonly publishUrl: string;
  /** The local EventBridge bus, and a wait until the emulated streams have handed on every record so far. */
  readonly events: { readonly bus: LocalEventBus; idle(): Promise<void> };
  close(): Promise<void>;
}

const STAGE = "local";
/** The local EventBridge bus's name (deployed: `{stack}-events`). */
const EVENT_BUS = "chat-local-events";
const TABLES: LocalTableNames = {
  connections: "chat-connections",
  history: "chat-history",
  presence: "chat-presence",
  rates: "chat-rates",
  members: "chat-members",
};

/** A store at `endpoint` with the chat's tables, behind a fault-injecting proxy when `faults` are given. */
async function externalDynamo(endpoint: string, tables: LocalTableNames, faults?: Faults): Promise<LocalDynamo> {
  await createTables(endpoint, tables);
  if (faults) return startDynamoFaultProxy(endpoint, faults);
  return { endpoint, close: async () => {} };
}

/**
 * Starts the whole chat on one machine: the local DynamoDB-compatible store, the API Gateway emulator running the
 * same handler modules as Lambda (wired through the same environment-driven code), the session endpoint and the page.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const logger = options.logger ?? consoleLogger();
  const host = options.host ?? "127.0.0.1";
  const faults = new Faults(options.faults);
  const tables = options.tables ?? TABLES;
  const dynamo = options.dynamoEndpoint
    ? await externalDynamo(options.dynamoEndpoint, tables, options.dynamoFaultProxy ? faults : undefined)
    : await startLocalDynamo(tables, options.dataDir, faults);

  let route: (request: IncomingMessage, response: ServerResponse) => Promise<void> = async (_, response) => {
    response.writeHead(503).end();
  };
  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      logger.error("request failed", { url: request.url, error });
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  // The management API on this port is posted to over kept-alive sockets too (see KEEP_ALIVE_MS).
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 10_000;
  const started: { management?: ManagementThread; streams?: StreamProxy } = {};
  /** Stops what has started when a later step fails, so a failed start leaves no server, store or thread running. */
  const abortStart = async (error: unknown): Promise<never> => {
    await started.management?.close();
    await started.streams?.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await dynamo.close();
    throw error;
  };
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 3000, host, () => resolve());
  }).catch(abortStart);
  const { port } = server.address() as AddressInfo;
  const origin = httpOrigin(host, port);
  const threads = options.workerThreads ?? true;
  const oidc = options.auth === "oidc" ? await createDevOidcProvider({ origin }).catch(abortStart) : undefined;
  const management = threads
    ? await ManagementThread.start(
        host,
        STAGE,
        (encodedId, method, body) => managementAnswer(gateway, encodedId, method, body, faults),
        logger,
      ).catch(abortStart)
    : undefined;
  started.management = management;
  const managementEndpoint = management?.endpoint ?? `${origin}/${STAGE}`;
  // Events out: the functions reach the store through the stream emulation, whose records the events function reads.
  const bus = new LocalEventBus(EVENT_BUS);
  let poller: StreamPoller | undefined;
  const streams =
    (options.events ?? true)
      ? await startStreamProxy(
          dynamo.endpoint,
          { history: tables.history, presence: tables.presence },
          (table, records) => poller?.add(table, records),
          logger,
        ).catch(abortStart)
      : undefined;
  started.streams = streams;

  const env = {
    CONNECTIONS_TABLE: tables.connections,
    HISTORY_TABLE: tables.history,
    PRESENCE_TABLE: tables.presence,
    RATES_TABLE: tables.rates,
    MEMBERS_TABLE: tables.members,
    ...(options.presenceLimit ? { CHAT_PRESENCE_LIMIT: String(options.presenceLimit) } : {}),
    CHAT_MANAGEMENT_ENDPOINT: managementEndpoint,
    CHAT_EVENT_BUS_NAME: EVENT_BUS,
    AWS_ENDPOINT_URL_EVENTBRIDGE: `${origin}/local/eventbridge`,
    CHAT_TOKEN_SECRET: options.tokenSecret ?? randomBytes(32).toString("base64url"),
    ...(oidc ? { CHAT_AUTH: "oidc", CHAT_OIDC_ISSUER: oidc.issuer, CHAT_OIDC_CLIENT_ID: oidc.clientId } : {}),
    ...(options.sessionRate ? { CHAT_SESSION_RATE: String(options.sessionRate) } : {}),
  };
  const functionConfig: FunctionConfig = {
    env,
    aws: { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, dynamoEndpoint: streams?.endpoint ?? dynamo.endpoint },
    tokenTtlSeconds: options.tokenTtlSeconds,
  };
  // Large channels are sharded as in the cloud: segments go to broadcast workers (the same handler module as the
  // worker function), here through an in-process queue instead of SQS. The queue lives in this thread, as SQS is a
  // service apart from the functions; it invokes the broadcast worker function like any other.
  const segments = new InProcessSegmentQueue((event, context) => functions.broadcastWorker(event, context), {
    concurrency: options.broadcastWorkers,
    logger,
  });
  const hooks: FunctionHooks = { logger, segmentQueue: segments.queue };
  const thread = threads ? await LambdaThread.start(functionConfig, hooks).catch(abortStart) : undefined;
  const functions = thread?.functions ?? (await createLambdaFunctions(functionConfig, hooks).catch(abortStart));
  if (streams) poller = new StreamPoller((event) => functions.chatEvents(event), logger);
  const gateway = new WebSocketGateway(
    {
      authorizer: functions.authorizer,
      // As deployed: no identity source, since the token may come in the query string or as a subprotocol.
      identitySources: [],
      $connect: functions.$connect,
      $disconnect: functions.$disconnect,
      $default: functions.$default,
      // As deployed (infra/websocket-api.ts): `$default` answers its sender through its route response.
      returnResponse: ["$default"],
    },
    {
      apiId: "local",
      stage: STAGE,
      domainName: `${host}:${port}`,
      idleTimeoutMs: options.idleTimeoutMs,
      maxConnectionMs: options.maxConnectionMs,
      logger,
    },
  );

  server.on("upgrade", (request: IncomingMessage, socket, head: Buffer) => {
    if (new URL(request.url ?? "/", "http://localhost").pathname !== "/ws") return void socket.destroy();
    gateway.handleUpgrade(request, socket, head).catch((error: unknown) => {
      logger.error("upgrade failed", { error });
      socket.destroy();
    });
  });
  route = async (request, response) => {
    const path = (request.url ?? "/").split("?", 1)[0] ?? "/";
    const connectionId = managementConnectionId(path);
    if (connectionId !== undefined) return handleManagementRequest(gateway, connectionId, request, response, faults);
    if (oidc?.owns(path)) return oidc.handle(request, response);
    const auth = oidc ? { mode: "oidc" as const, issuer: oidc.issuer, clientId: oidc.clientId } : undefined;
    const config = siteConfig(request, `${host}:${port}`, auth);
    if (await servePublish(functions.publish, request, response, path)) return;
    if (await serveLocalEvents(bus, request, response, path)) return;
    if (path === "/session" && request.method === "POST")
      return invokeHttpApi(functions.session, request, response, "POST /session");
    if (path === "/config.json") {
      const body = JSON.stringify(config);
      response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      return void response.end(body);
    }
    if (options.webDir && (request.method === "GET" || request.method === "HEAD")) {
      return serveStatic(options.webDir, request, response, securityHeaders(config));
    }
    response.writeHead(404, { "content-type": "text/plain" }).end("Not found");
  };

  const inspection = documentClient(functionConfig.aws);
  return {
    url: origin,
    wsUrl: `${origin.replace(/^http/, "ws")}/ws`,
    sessionUrl: `${origin}/session`,
    ...(oidc ? { oidc: { issuer: oidc.issuer, clientId: oidc.clientId } } : {}),
    managementEndpoint,
    dynamoEndpoint: dynamo.endpoint,
    tables,
    documentClient: inspection,
    gateway,
    faults,
    segments,
    publishUrl: `${origin}${PUBLISH_BASE}`,
    events: { bus, idle: async () => poller?.idle() },
    async close() {
      await gateway.close();
      await segments.idle();
      poller?.close();
      bus.close();
      await thread?.close();
      await management?.close();
      await streams?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      inspection.destroy();
      await dynamo.close();
    },
  };
}
