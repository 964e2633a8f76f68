import { leave } from "../core/chat.ts";
import { chatDepsFor, type WebSocketHandlerDeps } from "./websocket-deps.ts";
import { participantOf, type WebSocketEvent, type WebSocketResult } from "./websocket-event.ts";

/** `$disconnect`: remove the connection and tell the channel. API Gateway delivers this at best effort. */
export function createDisconnectHandler(deps: WebSocketHandlerDeps) {
  const handle = async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const who = participantOf(event);
    if (!who) {
      deps.logger.error("$disconnect without authorizer context", { requestId: event.requestContext.requestId });
      return { statusCode: 200 };
    }
    const result = await leave(chatDepsFor(deps), who);
    deps.logger.info("left", { ...who, ...result });
    return { statusCode: 200 };
  };
  return async (event: WebSocketEvent): Promise<WebSocketResult> => {
    try {
      return await handle(event);
    } finally {
      deps.flushMetrics?.();
    }
  };
}
