import { SQSClient } from "@aws-sdk/client-sqs";
import { ConnectionStore } from "../core/connection-store.ts";
import { HistoryStore } from "../core/history-store.ts";
import type { CoreLogger } from "../core/logger.ts";
import type { SegmentQueue } from "../core/sharded-fanout.ts";
import type { BroadcastWorkerDeps } from "../handlers/broadcast-worker.ts";
import type { WebSocketHandlerDeps } from "../handlers/websocket-deps.ts";
import { type AwsClientOptions, clientSettings, documentClient, posterCache } from "./aws-clients.ts";
import { chatMetrics } from "./chat-metrics.ts";
import { requireEnv } from "./environment.ts";
import { newLogger } from "./function-logger.ts";
import { sqsSegmentQueueFor } from "./sqs-segment-queue.ts";

type Env = Record<string, string | undefined>;

/** How the local stack (or a test) adjusts what the environment wires. */
export interface WiringOptions {
  /** Region, credentials and a DynamoDB endpoint for local use. Default: Lambda's environment. */
  readonly aws?: AwsClientOptions;
  readonly logger?: CoreLogger;
  /** CloudWatch EMF metrics. Default: on. */
  readonly metrics?: boolean;
  /** Where large channels' segments go. Default: the SQS queue named by `SEGMENT_QUEUE_URL`, if set. */
  readonly segmentQueueFor?: (endpoint: string) => SegmentQueue;
}

/**
 * The WebSocket routes' dependencies from the environment: `CONNECTIONS_TABLE`, `HISTORY_TABLE`, and optionally
 * `CHAT_MANAGEMENT_ENDPOINT` (where API Gateway's own `https://{domainName}/{stage}` is not the way to reach it) and
 * `SEGMENT_QUEUE_URL` (sharded fan-out for large channels). The local stack calls it too, with its own environment and
 * options, so both run the same wiring.
 */
export function webSocketDepsFromEnv(env: Env = process.env, options: WiringOptions = {}): WebSocketHandlerDeps {
  const connectionsTable = requireEnv("CONNECTIONS_TABLE", env);
  const historyTable = requireEnv("HISTORY_TABLE", env);
  const aws = options.aws ?? {};
  const doc = documentClient(aws);
  const queueUrl = env.SEGMENT_QUEUE_URL;
  const segmentQueueFor =
    options.segmentQueueFor ??
    (queueUrl ? sqsSegmentQueueFor(new SQSClient(clientSettings(aws)), queueUrl) : undefined);
  return {
    connections: new ConnectionStore(doc, connectionsTable),
    history: new HistoryStore(doc, historyTable),
    posterFor: posterCache(env.CHAT_MANAGEMENT_ENDPOINT || undefined, aws),
    logger: options.logger ?? newLogger(),
    ...(segmentQueueFor ? { segmentQueueFor } : {}),
    ...((options.metrics ?? true) ? chatMetrics() : {}),
  };
}

/** The broadcast worker's dependencies from the environment: `CONNECTIONS_TABLE`, optionally `CHAT_MANAGEMENT_ENDPOINT`. */
export function broadcastWorkerDepsFromEnv(env: Env = process.env, options: WiringOptions = {}): BroadcastWorkerDeps {
  const aws = options.aws ?? {};
  return {
    connections: new ConnectionStore(documentClient(aws), requireEnv("CONNECTIONS_TABLE", env)),
    posterFor: posterCache(env.CHAT_MANAGEMENT_ENDPOINT || undefined, aws),
    logger: options.logger ?? newLogger(),
    ...((options.metrics ?? true) ? chatMetrics() : {}),
  };
}
