import type { ChatDeps } from "../core/chat.ts";
import type { CoreLogger } from "../core/logger.ts";
import type { Poster } from "../core/poster.ts";
import type { SegmentQueue } from "../core/sharded-fanout.ts";
import type { ManagementEndpointConfig } from "./websocket-event.ts";

/**
 * What the WebSocket route handlers need: the chat's dependencies, with the poster chosen per management API endpoint
 * (see `managementEndpointOf`: the configured endpoint, else the API's execute-api endpoint in `region`).
 */
export interface WebSocketHandlerDeps
  extends Omit<ChatDeps, "poster" | "logger" | "segmentQueue">,
    ManagementEndpointConfig {
  /** The poster for a management API endpoint, built once per endpoint. */
  readonly posterFor: (endpoint: string) => Poster;
  /**
   * Where a large channel's segments go (the endpoint is not part of a segment: the workers post to their own
   * configured one); without it the handler posts to every member itself.
   */
  readonly segmentQueueFor?: (endpoint: string) => SegmentQueue;
  readonly logger: CoreLogger;
  /** Publishes what `onBroadcast` gathered; called once at the end of every event. */
  readonly flushMetrics?: () => void;
}

/** The chat's dependencies for one event. */
export const chatDepsFor = (deps: WebSocketHandlerDeps, endpoint: string): ChatDeps => ({
  ...deps,
  poster: deps.posterFor(endpoint),
  segmentQueue: deps.segmentQueueFor?.(endpoint),
});
