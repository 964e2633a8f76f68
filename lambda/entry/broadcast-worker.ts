import { createBroadcastWorkerHandler } from "../handlers/broadcast-worker.ts";
import { broadcastWorkerDepsFromEnv } from "../runtime/deps-from-env.ts";

/** Lambda entry of the broadcast worker (SQS-triggered); clients are built once per cold start. */
export const handler = createBroadcastWorkerHandler(broadcastWorkerDepsFromEnv());
