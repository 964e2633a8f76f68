import { isUtf8 } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import { WebSocket } from "ws";
import { newRequestId } from "./api-gateway-events.ts";
import type { Faults } from "./faults.ts";
import { readBody } from "./read-body.ts";
import type { WebSocketGateway } from "./websocket-gateway.ts";

/** PostToConnection accepts at most 128 KB, API Gateway's message size. */
export const MAX_POST_BYTES = 128 * 1024;

/** Above this many bytes waiting for a slow client, API Gateway answers 429 (the client's buffer is full). */
const CLIENT_BUFFER_LIMIT = 4 * 1024 * 1024;

const CONNECTIONS_PATH = /^\/(?:[^/]+\/)?@connections\/([^/?]+)$/;

/** An error answered as AWS answers it: status, `x-amzn-errortype`, JSON body. The SDK reads the type from the header. */
function awsError(response: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ message });
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "x-amzn-errortype": type,
    "x-amzn-requestid": newRequestId(),
  });
  response.end(body);
}

/**
 * The (still URL-encoded) connection id of a management API path (`[/{stage}]/@connections/{id}`, no query string),
 * or undefined for any other path. A plain match on the path: this runs for every post of every fan-out.
 */
export const managementConnectionId = (path: string): string | undefined => CONNECTIONS_PATH.exec(path)?.[1];

/**
 * The API Gateway Management API over the emulator: POST sends a frame, GET describes, DELETE closes (and fires
 * `$disconnect`). Requests are not signature-checked; ids are URL-decoded as API Gateway does.
 */
export async function handleManagementRequest(
  gateway: WebSocketGateway,
  encodedId: string,
  request: IncomingMessage,
  response: ServerResponse,
  faults?: Faults,
): Promise<void> {
  if (faults?.options.managementLatencyMs) await faults.delay("management");
  let connectionId: string;
  try {
    connectionId = decodeURIComponent(encodedId);
  } catch {
    return awsError(response, 400, "BadRequestException", "Invalid connection id");
  }
  const connection = gateway.live(connectionId);
  const socket = connection?.socket;
  if (request.method === "POST") {
    const body = await readBody(request, MAX_POST_BYTES);
    if (body === undefined) return awsError(response, 413, "PayloadTooLargeException", "Request entity too large");
    const fault = faults?.postFault(connectionId);
    if (fault === "throttled") return awsError(response, 429, "LimitExceededException", "Rate exceeded (injected)");
    if (fault === "gone" || !connection || socket?.readyState !== WebSocket.OPEN) {
      return awsError(response, 410, "GoneException", "");
    }
    if (socket.bufferedAmount > CLIENT_BUFFER_LIMIT) {
      return awsError(response, 429, "LimitExceededException", "Client buffer is full");
    }
    // A text frame, as API Gateway sends posted data. Valid UTF-8 (every post the chat makes) goes out as it came,
    // without decoding it into a string for ws to encode again; anything else is decoded as before, invalid
    // sequences replaced, so the client never gets a text frame that is not UTF-8.
    if (isUtf8(body)) socket.send(body, { binary: false });
    else socket.send(body.toString("utf8"));
    response.writeHead(200, { "content-length": 0, "x-amzn-requestid": newRequestId() });
    return void response.end();
  }
  if (!connection) return awsError(response, 410, "GoneException", "");
  if (request.method === "GET") {
    // The wire names are camelCase; the SDK maps them to ConnectedAt, Identity.SourceIp, …
    const body = JSON.stringify({
      connectedAt: new Date(connection.connectedAt).toISOString(),
      identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
      lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
    });
    response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    return void response.end(body);
  }
  if (request.method === "DELETE") {
    socket?.close(1000, "");
    response.writeHead(204, { "x-amzn-requestid": newRequestId() });
    return void response.end();
  }
  return awsError(response, 405, "MethodNotAllowedException", "Method not allowed");
}
