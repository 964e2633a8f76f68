import { handleFrame, internalErrorAnswer } from "../core/chat.ts";
import { errorFrame } from "../core/server-frames.ts";
import { chatDepsFor, type WebSocketHandlerDeps } from "./websocket-deps.ts";
import { participantOf, type WebSocketEvent, type WebSocketResult } from "./websocket-event.ts";

/**
 * `$default`: one client frame. The route has a route response (two-way: infra/websocket-api.ts), so the body returned
 * here is sent back to the sender by API Gateway, with no management call: every frame's answer (its own copy of a
 * chat message, a reply, an error frame, `internal` when handling failed) goes that way, and the connection is never
 * closed for a bad frame. A two-way route sends something for every invocation, an empty frame when the result has no
 * body, so every result here has one.
 */
export function createMessageHandler(deps: WebSocketHandlerDeps) {
  const handle = async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const { requestId, connectionId } = event.requestContext;
    const who = participantOf(event);
    if (!who) {
      deps.logger.error("message without authorizer context", { requestId, connectionId });
      return { statusCode: 403, body: internalErrorAnswer(requestId) };
    }
    if (event.isBase64Encoded === true) {
      // Cannot happen on AWS: API Gateway closes a connection with 1003 on a binary frame and invokes no route
      // ("Binary media types for WebSocket APIs"). Refused unread, should anything else send one.
      deps.logger.warn("binary frame refused", { requestId, connectionId });
      return { statusCode: 400, body: JSON.stringify(errorFrame("bad_request", "binary frames are not supported")) };
    }
    const chat = chatDepsFor(deps);
    try {
      const { answer, ...outcome } = await handleFrame(chat, who, event.body ?? "");
      deps.logger.info("frame handled", { requestId, connectionId, channel: who.channel, outcome });
      return { statusCode: 200, body: answer };
    } catch (error) {
      deps.logger.error("frame failed", { requestId, connectionId, channel: who.channel, error });
      return { statusCode: 500, body: internalErrorAnswer(requestId) };
    }
  };
  return async (event: WebSocketEvent): Promise<WebSocketResult> => {
    try {
      return await handle(event);
    } finally {
      deps.flushMetrics?.();
    }
  };
}
