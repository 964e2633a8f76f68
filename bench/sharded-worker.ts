import { createBroadcastWorkerHandler } from "../lambda/handlers/broadcast-worker.ts";
import { posterCache } from "../lambda/runtime/aws-clients.ts";
import { exitWithParent } from "./child.ts";

/**
 * One broadcast-worker process of the sharded benchmark: the product's worker handler with the default poster, fed
 * segments over IPC as SQS feeds the worker function (one record per invocation). Stale-member removal goes nowhere:
 * every member in the benchmark is live. Messages: `{ type: "segment", id, body }` → `{ type: "done", id, delivered,
 * failed }`. The endpoint of the management API is the first argument.
 */
const results = new Map<string, { delivered: number; failed: number }>();
const handler = createBroadcastWorkerHandler({
  connections: { memberPages: async function* () {}, removeMany: async () => [] },
  poster: posterCache({
    region: "us-east-1",
    credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
  })(process.argv[2] ?? ""),
  logger: {
    // The handler logs each segment's result with its message id: that is what this process reports back.
    info(message, ...extra) {
      const details = Object.assign({}, ...extra) as { messageId?: string; delivered?: number; failed?: number };
      if (message === "segment delivered" && details.messageId) {
        results.set(details.messageId, { delivered: details.delivered ?? 0, failed: details.failed ?? 0 });
      }
    },
    warn() {},
    error() {},
  },
});

exitWithParent();
process.on("message", (message: { type?: string; id?: number; body?: string }) => {
  if (message.type !== "segment" || typeof message.body !== "string") return;
  const messageId = String(message.id);
  void handler({ Records: [{ messageId, body: message.body }] }).then((response) => {
    const result = results.get(messageId) ?? { delivered: 0, failed: 0 };
    results.delete(messageId);
    process.send?.({
      type: "done",
      id: message.id,
      ...result,
      failed: result.failed + response.batchItemFailures.length,
    });
  });
});
process.send?.({ type: "ready" });
