import type { BroadcastResult } from "../core/broadcast.ts";
import type { ChatDeps } from "../core/chat.ts";
import { parsePublishRequest } from "../core/publish.ts";
import type { MessageFrame } from "../core/server-frames.ts";
import { chatDepsFor, type WebSocketHandlerDeps } from "./websocket-deps.ts";

/** The part of an HTTP API (payload 2.0) event that `POST /channels/{channel}/messages` reads. */
export interface PublishEvent {
  pathParameters?: { channel?: string } | null;
  body?: string | null;
  isBase64Encoded?: boolean;
  requestContext?: {
    requestId?: string;
    /** With IAM authorization, who signed the request (AWS doc "Working with AWS Lambda proxy integrations for HTTP APIs"). */
    authorizer?: { iam?: { userArn?: string; accountId?: string } };
  };
}

/** An HTTP API answer. */
export interface PublishResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** Stores a server message in a channel's history and delivers it, as `chat.ts` does for a member's message. */
export type PublishMessage = (
  deps: ChatDeps,
  channel: string,
  from: string,
  text: string,
) => Promise<{ frame: MessageFrame; result: BroadcastResult }>;

/** Dependencies of the publish endpoint: the WebSocket routes' own (tables, poster, segment queue) and the core call. */
export interface PublishHandlerDeps extends WebSocketHandlerDeps {
  readonly publish: PublishMessage;
}

const HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

const answer = (statusCode: number, body: object): PublishResponse => ({
  statusCode,
  headers: HEADERS,
  body: JSON.stringify(body),
});

/**
 * `POST /channels/{channel}/messages` (PROTOCOL §8): a backend's message, validated by the chat's own rules, kept in
 * the channel's history and delivered to its members (sharded when the channel is large), answered
 * `200 {"id","channel","timestamp"}`. Bad input is 400 or 413, never 500; only a failure of ours (the store) is a
 * logged 500. API Gateway has checked the caller's SigV4 signature and `execute-api:Invoke` before this runs.
 */
export function createPublishHandler(deps: PublishHandlerDeps) {
  const handle = async (event: PublishEvent): Promise<PublishResponse> => {
    const requestId = event.requestContext?.requestId;
    const caller = event.requestContext?.authorizer?.iam?.userArn;
    const parsed = parsePublishRequest(event.pathParameters?.channel, event.body, event.isBase64Encoded === true);
    if (!parsed.ok) {
      deps.logger.info("publish refused", { requestId, caller, ...parsed.refusal });
      return answer(parsed.refusal.status, { error: parsed.refusal.error });
    }
    const { channel, from, message } = parsed.request;
    try {
      const { frame, result } = await deps.publish(chatDepsFor(deps), channel, from, message);
      deps.logger.info("message published", { requestId, caller, channel, from, id: frame.id, result });
      return answer(200, { id: frame.id, channel: frame.channel, timestamp: frame.timestamp });
    } catch (error) {
      deps.logger.error("publish failed", { requestId, caller, channel, error });
      return answer(500, { error: `something went wrong on our side (request ${requestId ?? "unknown"})` });
    }
  };
  return async (event: PublishEvent): Promise<PublishResponse> => {
    try {
      return await handle(event);
    } finally {
      deps.flushMetrics?.();
    }
  };
}
