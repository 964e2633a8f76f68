import { createMessageHandler } from "../handlers/message.ts";
import { webSocketDepsFromEnv } from "../runtime/deps-from-env.ts";

/** Lambda entry of the WebSocket route; clients are built once per cold start. */
export const handler = createMessageHandler(webSocketDepsFromEnv());
