import { publishMessage } from "../core/chat.ts";
import { createPublishHandler } from "../handlers/publish.ts";
import { webSocketDepsFromEnv } from "../runtime/deps-from-env.ts";

/**
 * Lambda entry of `POST /channels/{channel}/messages`: the same environment and clients as the WebSocket routes
 * (tables, management API endpoint, segment queue), built once per cold start.
 */
export const handler = createPublishHandler({ ...webSocketDepsFromEnv(), publish: publishMessage });
