import type { ChatDeps } from "../core/chat.ts";
import type { CoreLogger } from "../core/logger.ts";
import type { Poster } from "../core/poster.ts";

/**
 * What the WebSocket route handlers need: the chat's dependencies, with the poster built for the configured management
 * API endpoint (`CHAT_MANAGEMENT_ENDPOINT`, the API's execute-api endpoint whatever domain the client used).
 */
export interface WebSocketHandlerDeps extends Omit<ChatDeps, "poster" | "logger"> {
  /** The management API endpoint every post goes to. */
  readonly managementEndpoint: string;
  /** The poster for a management API endpoint (tests record the endpoint here). */
  readonly posterFor: (endpoint: string) => Poster;
  readonly logger: CoreLogger;
  /** Publishes what `onBroadcast` gathered; called once at the end of every event. */
  readonly flushMetrics?: () => void;
}

/** The chat's dependencies for one event. */
export const chatDepsFor = (deps: WebSocketHandlerDeps): ChatDeps => ({
  ...deps,
  poster: deps.posterFor(deps.managementEndpoint),
});
