import type { Participant } from "../core/chat.ts";

/**
 * The part of API Gateway's WebSocket Lambda proxy event that the handlers read. `authorizer` is the context the
 * `$connect` authorizer returned: API Gateway hands it to every later event of the same connection.
 */
export interface WebSocketEvent {
  requestContext: {
    routeKey: string;
    eventType?: string;
    connectionId: string;
    apiId: string;
    /**
     * The host the client connected to: a custom domain when there is one, whose API mapping does not serve
     * `@connections` (AWS doc "Use @connections commands in your backend service"), so never where posts go: they go
     * to the execute-api endpoint the functions are configured with (`CHAT_MANAGEMENT_ENDPOINT`).
     */
    domainName: string;
    stage: string;
    requestId: string;
    authorizer?: { username?: unknown; channel?: unknown; [key: string]: unknown } | null;
  };
  /** Handshake headers (on `$connect`). */
  headers?: Record<string, string | undefined> | null;
  body?: string | null;
  isBase64Encoded?: boolean;
}

/** A WebSocket route's answer to API Gateway. */
export interface WebSocketResult {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
}

/** Who is on the connection, from the authorizer context; undefined when the context is missing. */
export function participantOf(event: WebSocketEvent): Participant | undefined {
  const { connectionId, authorizer } = event.requestContext;
  const username = authorizer?.username;
  const channel = authorizer?.channel;
  if (typeof username !== "string" || typeof channel !== "string") return undefined;
  return { connectionId, username, channel };
}
