import { abandon, admit, join, NoLongerMemberError } from "../core/chat.ts";
import { CHAT_SUBPROTOCOL, headerValue, offersChatProtocol } from "../core/subprotocol.ts";
import { chatDepsFor, type WebSocketHandlerDeps } from "./websocket-deps.ts";
import { participantOf, type WebSocketEvent, type WebSocketResult } from "./websocket-event.ts";

/** `$connect`: store the connection the authorizer let in, and tell the channel. */
export function createConnectHandler(deps: WebSocketHandlerDeps) {
  const handle = async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const who = participantOf(event);
    if (!who) {
      // Only reachable if the route was deployed without the authorizer: refuse rather than store an anonymous user.
      deps.logger.error("$connect without authorizer context", { requestId: event.requestContext.requestId });
      return { statusCode: 403 };
    }
    const chat = chatDepsFor(deps);
    const admission = await admit(chat, who);
    if (admission !== "admitted") {
      // API Gateway answers the handshake with the status $connect's integration returns ("$connect route": "You
      // want to throttle connections or control who connects").
      deps.logger.warn("connection refused", { ...who, admission });
      return { statusCode: admission === "forbidden" ? 403 : 429 };
    }
    let result: Awaited<ReturnType<typeof join>>;
    try {
      result = await join(chat, who);
    } catch (error) {
      // The handshake fails and no $disconnect will come: nothing of this connection may stay held or stored.
      await abandon(chat, who).catch((rollbackError: unknown) => {
        deps.logger.error("failed handshake not taken back", { ...who, error: rollbackError });
      });
      if (error instanceof NoLongerMemberError) {
        deps.logger.warn("connection refused: removed from the channel during the handshake", { ...who });
        return { statusCode: 403 };
      }
      throw error;
    }
    deps.logger.info("joined", { ...who, ...result });
    // A browser that sent its token as a subprotocol drops the connection unless one protocol is chosen.
    return offersChatProtocol(headerValue(event.headers, "Sec-WebSocket-Protocol"))
      ? { statusCode: 200, headers: { "Sec-WebSocket-Protocol": CHAT_SUBPROTOCOL } }
      : { statusCode: 200 };
  };
  return async (event: WebSocketEvent): Promise<WebSocketResult> => {
    try {
      return await handle(event);
    } finally {
      deps.flushMetrics?.();
    }
  };
}
