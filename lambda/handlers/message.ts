import { handleFrame, replyInternalError } from "../core/chat.ts";
import { chatDepsFor, type WebSocketHandlerDeps } from "./websocket-deps.ts";
import { participantOf, type WebSocketEvent, type WebSocketResult } from "./websocket-event.ts";

/**
 * `$default`: one client frame. Every answer to the sender (replies and error frames) goes through the management
 * API, so the connection is never closed for a bad frame and the route needs no route response.
 */
export function createMessageHandler(deps: WebSocketHandlerDeps) {
  const handle = async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const { requestId, connectionId } = event.requestContext;
    const who = participantOf(event);
    if (!who) {
      deps.logger.error("message without authorizer context", { requestId, connectionId });
      return { statusCode: 403 };
    }
    if (event.isBase64Encoded === true) {
      // Cannot happen on AWS: API Gateway closes a connection with 1003 on a binary frame and invokes no route
      // ("Binary media types for WebSocket APIs"). Refused unread, should anything else send one.
      deps.logger.warn("binary frame refused", { requestId, connectionId });
      return { statusCode: 400 };
    }
    const chat = chatDepsFor(deps);
    try {
      const outcome = await handleFrame(chat, who, event.body ?? "");
      deps.logger.info("frame handled", { requestId, connectionId, channel: who.channel, outcome });
      return { statusCode: 200 };
    } catch (error) {
      deps.logger.error("frame failed", { requestId, connectionId, channel: who.channel, error });
      await replyInternalError(chat, who, requestId).catch((replyError: unknown) => {
        deps.logger.error("internal-error reply failed", { requestId, connectionId, error: replyError });
      });
      return { statusCode: 500 };
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
