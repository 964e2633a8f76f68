import { silentLogger } from "../lambda/core/logger.ts";
import { startCountedDynalite } from "../local/dynamo-op-counter.ts";
import { startLocalStack } from "../local/local-stack.ts";
import { exitWithParent } from "./child.ts";
import { E2E_SECRET } from "./e2e-secret.ts";

/** What the flood benchmark's server says when it is ready. */
export interface FloodServerReady {
  type: "ready";
  wsUrl: string;
}

/**
 * The chat's whole local stack as `npm start` runs it (the emulator and the store in this thread, the functions and
 * the management API in worker threads), on a dynalite whose every DynamoDB operation is counted by its
 * `X-Amz-Target`. `{ type: "ops" }` answers `{ type: "ops", counts }` with the counts so far.
 */
exitWithParent();
const store = await startCountedDynalite();
const stack = await startLocalStack({
  port: 0,
  tokenSecret: E2E_SECRET,
  logger: silentLogger,
  dynamoEndpoint: store.endpoint,
});
process.on("message", (message: { type?: string }) => {
  if (message.type === "ops") process.send?.({ type: "ops", counts: store.counter.snapshot() });
});
process.once("SIGTERM", () => process.exit(0));
process.send?.({ type: "ready", wsUrl: stack.wsUrl } satisfies FloodServerReady);
