import { isUtf8 } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import { WebSocket } from "ws";
import { newRequestId } from "./api-gateway-events.ts";
import type { Faults } from "./faults.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION, SigV4Verifier } from "./local-aws.ts";
import { readBody } from "./read-body.ts";
import type { WebSocketGateway } from "./websocket-gateway.ts";

/** PostToConnection accepts at most 128 KB, API Gateway's message size. */
export const MAX_POST_BYTES = 128 * 1024;

/**
 * How long the local servers keep an idle connection. The functions post over kept-alive sockets, and a server that
 * closes one just as a post reuses it resets that post (the poster then posts it again): longer than Node's 5 s
 * default, so that happens seldom, as with API Gateway's own front, which keeps connections for minutes.
 */
export const KEEP_ALIVE_MS = 120_000;

/** Above this many bytes waiting for a slow client, API Gateway answers 429 (the client's buffer is full). */
const CLIENT_BUFFER_LIMIT = 4 * 1024 * 1024;

const CONNECTIONS_PATH = /^\/(?:[^/]+\/)?@connections\/([^/?]+)$/;

/** What the management API answers one request: status, headers and body, written by whichever thread holds it. */
export interface ManagementAnswer {
  readonly status: number;
  readonly headers: Record<string, string | number>;
  readonly body?: string;
}

/** An error answered as AWS answers it: status, `x-amzn-errortype`, JSON body. The SDK reads the type from the header. */
export function awsError(status: number, type: string, message: string): ManagementAnswer {
  const body = JSON.stringify({ message });
  return {
    status,
    headers: {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "x-amzn-errortype": type,
      "x-amzn-requestid": newRequestId(),
    },
    body,
  };
}

/** What API Gateway answers when it fails on its side; the emulator answers it when deciding an answer failed. */
export const internalErrorAnswer = (): ManagementAnswer =>
  awsError(500, "InternalServerErrorException", "Internal server error");

/**
 * The (still URL-encoded) connection id of a management API path (`[/{stage}]/@connections/{id}`, no query string),
 * or undefined for any other path. A plain match on the path: this runs for every post of every fan-out.
 */
export const managementConnectionId = (path: string): string | undefined => CONNECTIONS_PATH.exec(path)?.[1];

/**
 * The API Gateway Management API over the emulator: POST sends a frame, GET describes, DELETE closes (and fires
 * `$disconnect`). Requests are not signature-checked; ids are URL-decoded as API Gateway does. `body` is a POST's body,
 * or undefined when it was over {@link MAX_POST_BYTES}.
 */
export function managementAnswer(
  gateway: WebSocketGateway,
  encodedId: string,
  method: string | undefined,
  body: Buffer | undefined,
  faults?: Faults,
): ManagementAnswer | Promise<ManagementAnswer> {
  if (faults?.options.managementLatencyMs) {
    return faults.delay("management").then(() => answer(gateway, encodedId, method, body, faults));
  }
  return answer(gateway, encodedId, method, body, faults);
}

function answer(
  gateway: WebSocketGateway,
  encodedId: string,
  method: string | undefined,
  body: Buffer | undefined,
  faults?: Faults,
): ManagementAnswer {
  let connectionId: string;
  try {
    connectionId = decodeURIComponent(encodedId);
  } catch {
    return awsError(400, "BadRequestException", "Invalid connection id");
  }
  const connection = gateway.live(connectionId);
  const socket = connection?.socket;
  if (method === "POST") {
    if (body === undefined) return awsError(413, "PayloadTooLargeException", "Request entity too large");
    const fault = faults?.postFault(connectionId);
    if (fault === "throttled") return awsError(429, "LimitExceededException", "Rate exceeded (injected)");
    if (fault === "gone" || !connection || socket?.readyState !== WebSocket.OPEN) {
      return awsError(410, "GoneException", "");
    }
    if (socket.bufferedAmount > CLIENT_BUFFER_LIMIT) {
      return awsError(429, "LimitExceededException", "Client buffer is full");
    }
    // A text frame, as API Gateway sends posted data. Valid UTF-8 (every post the chat makes) goes out as it came,
    // without decoding it into a string for ws to encode again; anything else is decoded as before, invalid
    // sequences replaced, so the client never gets a text frame that is not UTF-8.
    if (isUtf8(body)) socket.send(body, { binary: false });
    else socket.send(body.toString("utf8"));
    return { status: 200, headers: { "content-length": 0, "x-amzn-requestid": newRequestId() } };
  }
  if (!connection) return awsError(410, "GoneException", "");
  if (method === "GET") {
    // The wire names are camelCase; the SDK maps them to ConnectedAt, Identity.SourceIp, …
    const description = JSON.stringify({
      connectedAt: new Date(connection.connectedAt).toISOString(),
      identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
      lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
    });
    return {
      status: 200,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(description) },
      body: description,
    };
  }
  if (method === "DELETE") {
    // Gone from now on (GET, POST and DELETE answer 410), though the client has yet to answer the close.
    gateway.closeConnection(connection, 1000, "");
    return { status: 204, headers: { "x-amzn-requestid": newRequestId() } };
  }
  return awsError(405, "MethodNotAllowedException", "Method not allowed");
}

/** Writes an answer. */
export function writeAnswer(response: ServerResponse, { status, headers, body }: ManagementAnswer): void {
  response.writeHead(status, headers);
  response.end(body);
}

/**
 * The answer refusing a management request whose SigV4 signature is missing or wrong, as API Gateway answers it (see
 * {@link SigV4Verifier}), or undefined for a valid one. `body`: a POST's bytes as read, undefined when over the limit
 * (then checked against the hash the client gave); other methods have none.
 */
export async function signatureRefusal(
  verifier: SigV4Verifier,
  request: IncomingMessage,
  body: Buffer | undefined,
): Promise<ManagementAnswer | undefined> {
  const method = request.method ?? "";
  const refusal = await verifier.verify(
    method,
    request.url ?? "/",
    request.headers,
    method === "POST" ? body : NO_BYTES,
  );
  return refusal && awsError(refusal.status, refusal.type, refusal.message);
}

const NO_BYTES = Buffer.alloc(0);

/** Checks the signatures of management requests made to the stack's own port, as the management thread does. */
let mainPortVerifier: SigV4Verifier | undefined;

/**
 * The management API on an HTTP server of this thread: reads the request, checks its SigV4 signature (as
 * local/management-front.ts does: an unsigned or badly signed request is answered 403 as API Gateway answers it),
 * answers it with {@link managementAnswer}.
 */
export async function handleManagementRequest(
  gateway: WebSocketGateway,
  encodedId: string,
  request: IncomingMessage,
  response: ServerResponse,
  faults?: Faults,
): Promise<void> {
  const body = request.method === "POST" ? await readBody(request, MAX_POST_BYTES) : undefined;
  mainPortVerifier ??= new SigV4Verifier({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const refused = await signatureRefusal(mainPortVerifier, request, body);
  writeAnswer(response, refused ?? (await managementAnswer(gateway, encodedId, request.method, body, faults)));
}
