import { ApiGatewayManagementApiClient, GoneException } from "@aws-sdk/client-apigatewaymanagementapi";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { ChatDeps, Participant } from "../lambda/core/chat.ts";
import { ConnectionStore } from "../lambda/core/connection-store.ts";
import { HistoryStore } from "../lambda/core/history-store.ts";
import type { CoreLogger } from "../lambda/core/logger.ts";
import { MemberStore } from "../lambda/core/member-store.ts";
import { managementApiPoster } from "../lambda/core/poster.ts";
import { PresenceStore } from "../lambda/core/presence-store.ts";
import { RateStore } from "../lambda/core/rate-store.ts";
import type { WebSocketEvent } from "../lambda/handlers/websocket-event.ts";

/** Shared names, ids and events for the tests. */
export const CONNECTIONS_TABLE = "test-connections";
export const HISTORY_TABLE = "test-history";
export const PRESENCE_TABLE = "test-presence";
export const RATES_TABLE = "test-rates";
export const MEMBERS_TABLE = "test-members";
export const SECRET = "a-test-secret-that-is-long-enough-for-hs256";
/** 2025-11-25T15:00:00Z, a fixed clock. */
export const NOW = 1_764_082_800_000;

export const lucy: Participant = { connectionId: "LucyConnId0=", username: "Lucy", channel: "support" };
export const bob: Participant = { connectionId: "BobConnId00=", username: "Bob", channel: "support" };

/** A logger that keeps what it is told, so tests can assert what was logged. */
export function recordingLogger(): CoreLogger & { lines: { level: string; message: string; extra: unknown[] }[] } {
  const lines: { level: string; message: string; extra: unknown[] }[] = [];
  const log =
    (level: string) =>
    (message: string, ...extra: unknown[]) =>
      lines.push({ level, message, extra });
  return { lines, info: log("info"), warn: log("warn"), error: log("error") };
}

/** A document client whose calls aws-sdk-client-mock intercepts (mock the `DynamoDBDocumentClient`). */
export const testDocumentClient = (): DynamoDBDocumentClient =>
  DynamoDBDocumentClient.from(
    new DynamoDBClient({ region: "eu-west-1", credentials: { accessKeyId: "x", secretAccessKey: "y" } }),
  );

export const testManagementClient = (): ApiGatewayManagementApiClient =>
  new ApiGatewayManagementApiClient({
    region: "eu-west-1",
    endpoint: "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
    credentials: { accessKeyId: "x", secretAccessKey: "y" },
  });

/** Chat dependencies over the given (mocked) clients, with a fixed clock and sequential ids. */
export function testChatDeps(
  doc = testDocumentClient(),
  management = testManagementClient(),
): ChatDeps & {
  logger: ReturnType<typeof recordingLogger>;
} {
  let id = 0;
  return {
    connections: new ConnectionStore(doc, CONNECTIONS_TABLE, { now: () => NOW, sleep: async () => {} }),
    history: new HistoryStore(doc, HISTORY_TABLE, { now: () => NOW }),
    presence: new PresenceStore(doc, PRESENCE_TABLE, { now: () => NOW }),
    rates: new RateStore(doc, RATES_TABLE, { now: () => NOW }),
    members: new MemberStore(doc, MEMBERS_TABLE),
    poster: managementApiPoster(management),
    logger: recordingLogger(),
    now: () => NOW,
    sleep: async () => {},
    newId: () => `msg-${++id}`,
  };
}

/** The 410 API Gateway answers for a connection that no longer exists, as the SDK raises it. */
export const goneError = (): GoneException =>
  new GoneException({ message: "Gone", $metadata: { httpStatusCode: 410 } });

/** A WebSocket route event as API Gateway sends it, with the authorizer context of `who`. */
export function webSocketEvent(
  routeKey: string,
  who: Participant | undefined,
  body?: string,
  isBase64Encoded = false,
): WebSocketEvent {
  return {
    requestContext: {
      routeKey,
      eventType: routeKey === "$connect" ? "CONNECT" : routeKey === "$disconnect" ? "DISCONNECT" : "MESSAGE",
      connectionId: who?.connectionId ?? "AnonConnId0=",
      apiId: "abc",
      domainName: "abc.execute-api.eu-west-1.amazonaws.com",
      stage: "prod",
      requestId: "req-1",
      authorizer: who ? { username: who.username, channel: who.channel, principalId: who.username } : null,
    },
    body,
    isBase64Encoded,
  };
}

/** Decodes the `Data` of a PostToConnection call. */
export const decodeData = (data: unknown): unknown =>
  JSON.parse(typeof data === "string" ? data : Buffer.from(data as Uint8Array).toString("utf8"));
