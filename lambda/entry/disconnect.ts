import { createDisconnectHandler } from "../handlers/disconnect.ts";
import { webSocketDepsFromEnv } from "../runtime/deps-from-env.ts";

/** Lambda entry of the WebSocket route; clients are built once per cold start. */
export const handler = createDisconnectHandler(webSocketDepsFromEnv());
