import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

/**
 * API Gateway-shaped connection ids: 11 random bytes in the URL-safe base64 alphabet, with `=` padding: 15 characters
 * and `=`, as in `JC1dgf9yoAMCK-g=` or the AWS CLI's example `L0SM9cOFvHcCIhw=`. Never `+` or `/`, which standard
 * base64 has: an id goes into management API paths (`@connections/{id}`).
 */
export const newConnectionId = (): string => `${randomBytes(11).toString("base64url")}=`;

/** Random bytes drawn a page at a time: the management API answers every post with a fresh request id. */
const ID_POOL_BYTES = 12 * 512;
let idPool = randomBytes(ID_POOL_BYTES);
let idPoolOffset = 0;

/** Request and message ids in API Gateway's shapes: 16 characters of `A-Z a-z 0-9`, from 12 random bytes. */
export function newRequestId(): string {
  if (idPoolOffset === ID_POOL_BYTES) {
    idPool = randomBytes(ID_POOL_BYTES);
    idPoolOffset = 0;
  }
  const id = idPool.toString("base64", idPoolOffset, idPoolOffset + 12);
  idPoolOffset += 12;
  return id.replace(/[+/]/g, "A");
}

/** What every WebSocket event of one API shares. */
export interface ApiIdentity {
  readonly apiId: string;
  readonly stage: string;
  readonly domainName: string;
}

/** One connection as the emulator knows it. */
export interface ConnectionFacts {
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly sourceIp: string;
  readonly userAgent: string;
}

const CLF_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `25/Nov/2026:17:40:04 +0000`, the `requestTime` format API Gateway uses. */
function requestTime(epochMs: number): string {
  const d = new Date(epochMs);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(d.getUTCDate())}/${CLF_MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

function requestContext(
  api: ApiIdentity,
  connection: ConnectionFacts,
  routeKey: string,
  eventType: "CONNECT" | "MESSAGE" | "DISCONNECT",
) {
  const now = Date.now();
  return {
    routeKey,
    eventType,
    extendedRequestId: newRequestId(),
    requestTime: requestTime(now),
    messageDirection: "IN",
    stage: api.stage,
    connectedAt: connection.connectedAt,
    requestTimeEpoch: now,
    identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
    requestId: newRequestId(),
    domainName: api.domainName,
    connectionId: connection.connectionId,
    apiId: api.apiId,
  };
}

/** Single- and multi-value maps, as API Gateway builds them from headers and the query string. */
function valueMaps(entries: Iterable<[string, string]>) {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [key, value] of entries) {
    single[key] = value; // the last value wins, as in API Gateway
    multi[key] = [...(multi[key] ?? []), value];
  }
  return { single, multi };
}

function requestMaps(request: IncomingMessage) {
  const url = new URL(request.url ?? "/", "http://localhost");
  const headerEntries: [string, string][] = [];
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    headerEntries.push([request.rawHeaders[i] ?? "", request.rawHeaders[i + 1] ?? ""]);
  }
  const headers = valueMaps(headerEntries);
  const query = valueMaps(url.searchParams.entries());
  return { headers, query, hasQuery: url.searchParams.size > 0 };
}

/** The REQUEST authorizer event of a WebSocket `$connect`. */
export function authorizerEvent(api: ApiIdentity, connection: ConnectionFacts, request: IncomingMessage) {
  const { headers, query, hasQuery } = requestMaps(request);
  return {
    type: "REQUEST" as const,
    methodArn: `arn:aws:execute-api:local:000000000000:${api.apiId}/${api.stage}/$connect`,
    headers: headers.single,
    multiValueHeaders: headers.multi,
    queryStringParameters: hasQuery ? query.single : null,
    multiValueQueryStringParameters: hasQuery ? query.multi : null,
    stageVariables: {},
    requestContext: requestContext(api, connection, "$connect", "CONNECT"),
  };
}

/** The `$connect` route event: the handshake request, with the authorizer's context. */
export function connectEvent(
  api: ApiIdentity,
  connection: ConnectionFacts,
  request: IncomingMessage,
  authorizer: Record<string, unknown> | undefined,
) {
  const { headers, query, hasQuery } = requestMaps(request);
  return {
    headers: headers.single,
    multiValueHeaders: headers.multi,
    queryStringParameters: hasQuery ? query.single : undefined,
    multiValueQueryStringParameters: hasQuery ? query.multi : undefined,
    requestContext: { ...requestContext(api, connection, "$connect", "CONNECT"), authorizer },
    isBase64Encoded: false,
  };
}

/** A message event on `$default` (or another route): a text frame's body. API Gateway never passes binary frames. */
export function messageEvent(
  api: ApiIdentity,
  connection: ConnectionFacts,
  routeKey: string,
  body: string,
  authorizer: Record<string, unknown> | undefined,
) {
  return {
    requestContext: {
      ...requestContext(api, connection, routeKey, "MESSAGE"),
      messageId: randomUUID().replace(/-/g, "").slice(0, 16),
      authorizer,
    },
    body,
    isBase64Encoded: false,
  };
}

/** The `$disconnect` event, with the close code and reason. */
export function disconnectEvent(
  api: ApiIdentity,
  connection: ConnectionFacts,
  authorizer: Record<string, unknown> | undefined,
  statusCode: number,
  reason: string,
) {
  return {
    headers: { Host: api.domainName },
    requestContext: {
      ...requestContext(api, connection, "$disconnect", "DISCONNECT"),
      disconnectStatusCode: statusCode,
      disconnectReason: reason,
      authorizer,
    },
    isBase64Encoded: false,
  };
}
