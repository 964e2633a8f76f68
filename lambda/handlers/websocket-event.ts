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
    /** The API's id: with the Region and stage it names the execute-api endpoint. */
    apiId: string;
    /** The host the client connected to: a custom domain when there is one, so never where posts go. */
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

/** Where the functions post to connections. */
export interface ManagementEndpointConfig {
  /** `CHAT_MANAGEMENT_ENDPOINT`: when set, every post goes there (the local stack sets it). */
  readonly managementEndpoint?: string;
  /** The function's Region (`AWS_REGION`), the API's own. */
  readonly region?: string;
}

/** The management API endpoint cannot be known: neither configured nor derivable from the event. */
export class ManagementEndpointError extends Error {
  override readonly name = "ManagementEndpointError";
}

/** An API's execute-api endpoint for `@connections`: `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`. */
export function executeApiEndpoint(apiId: string, region: string, stage: string): string {
  const suffix = region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  return `https://${apiId}.execute-api.${region}.${suffix}/${stage}`;
}

/**
 * The management API endpoint that reaches this event's connection: the configured one, else the API's execute-api
 * endpoint. Never `https://{domainName}/{stage}`: behind a custom domain `domainName` is that domain, whose API mapping
 * does not serve `@connections` (AWS doc "Use @connections commands in your backend service").
 */
export function managementEndpointOf(event: WebSocketEvent, config: ManagementEndpointConfig): string {
  if (config.managementEndpoint) return config.managementEndpoint;
  const { apiId, stage } = event.requestContext;
  if (!apiId || !config.region) {
    throw new ManagementEndpointError(
      `no management API endpoint: set CHAT_MANAGEMENT_ENDPOINT, or AWS_REGION for an event with an apiId (apiId: ${apiId || "none"})`,
    );
  }
  return executeApiEndpoint(apiId, config.region, stage);
}
