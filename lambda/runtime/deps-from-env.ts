import { SQSClient } from "@aws-sdk/client-sqs";
import { ConnectionStore } from "../core/connection-store.ts";
import { HistoryStore } from "../core/history-store.ts";
import { presenceLimitMax } from "../core/limits.ts";
import type { CoreLogger } from "../core/logger.ts";
import { MemberStore } from "../core/member-store.ts";
import { PresenceStore } from "../core/presence-store.ts";
import { RateStore } from "../core/rate-store.ts";
import type { SegmentQueue } from "../core/sharded-fanout.ts";
import type { BroadcastWorkerDeps } from "../handlers/broadcast-worker.ts";
import type { WebSocketHandlerDeps } from "../handlers/websocket-deps.ts";
import { type AwsClientOptions, clientSettings, documentClient, posterCache } from "./aws-clients.ts";
import { chatMetrics } from "./chat-metrics.ts";
import { ConfigurationError, positiveIntEnv, requireEnv } from "./environment.ts";
import { newLogger } from "./function-logger.ts";
import { sqsSegmentQueue } from "./sqs-segment-queue.ts";

type Env = Record<string, string | undefined>;

/** How the local stack (or a test) adjusts what the environment wires. */
export interface WiringOptions {
  /** Region, credentials and a DynamoDB endpoint for local use. Default: Lambda's environment. */
  readonly aws?: AwsClientOptions;
  readonly logger?: CoreLogger;
  /** CloudWatch EMF metrics. Default: on. */
  readonly metrics?: boolean;
  /** Where large channels' segments go. Default: the SQS queue named by `SEGMENT_QUEUE_URL`, if set. */
  readonly segmentQueue?: SegmentQueue;
}

/** The segment queue the environment names (`SEGMENT_QUEUE_URL`), for the routes and the worker alike. */
function segmentQueueFromEnv(env: Env, options: WiringOptions): SegmentQueue | undefined {
  if (options.segmentQueue) return options.segmentQueue;
  const queueUrl = env.SEGMENT_QUEUE_URL;
  if (!queueUrl) return undefined;
  return sqsSegmentQueue(new SQSClient(clientSettings(options.aws ?? {})), queueUrl);
}

/**
 * The WebSocket routes' dependencies from the environment: `CONNECTIONS_TABLE`, `HISTORY_TABLE`, `PRESENCE_TABLE`,
 * `RATES_TABLE`, `MEMBERS_TABLE`, and
 * optionally `CHAT_PRESENCE_LIMIT` (the largest channel with join and leave notices) and `SEGMENT_QUEUE_URL` (sharded
 * fan-out for large channels). Posts go to `CHAT_MANAGEMENT_ENDPOINT` (required: CDK sets the API's execute-api
 * endpoint, the local stack its own), whatever domain the client used. The local stack calls it too, with its own
 * environment and options, so both run the same wiring.
 */
export function webSocketDepsFromEnv(env: Env = process.env, options: WiringOptions = {}): WebSocketHandlerDeps {
  const connectionsTable = requireEnv("CONNECTIONS_TABLE", env);
  const historyTable = requireEnv("HISTORY_TABLE", env);
  const presenceTable = requireEnv("PRESENCE_TABLE", env);
  const ratesTable = requireEnv("RATES_TABLE", env);
  const membersTable = requireEnv("MEMBERS_TABLE", env);
  const presenceLimit = positiveIntEnv("CHAT_PRESENCE_LIMIT", env);
  if (presenceLimit !== undefined && presenceLimit > presenceLimitMax) {
    throw new ConfigurationError(
      `environment variable CHAT_PRESENCE_LIMIT must be at most ${presenceLimitMax} (larger channels may be delivered by broadcast workers, which send no notices), got "${presenceLimit}"`,
    );
  }
  const aws = options.aws ?? {};
  const doc = documentClient(aws);
  const managementEndpoint = requireEnv("CHAT_MANAGEMENT_ENDPOINT", env);
  const segmentQueue = segmentQueueFromEnv(env, options);
  const region = requireRegion(aws, env);
  return {
    connections: new ConnectionStore(doc, connectionsTable),
    history: new HistoryStore(doc, historyTable),
    presence: new PresenceStore(doc, presenceTable),
    rates: new RateStore(doc, ratesTable),
    members: new MemberStore(doc, membersTable),
    ...(presenceLimit ? { presenceLimit } : {}),
    posterFor: posterCache({ ...aws, region }),
    managementEndpoint,
    logger: options.logger ?? newLogger(),
    ...(segmentQueue ? { segmentQueue } : {}),
    ...((options.metrics ?? true) ? chatMetrics() : {}),
  };
}

/**
 * The broadcast worker's dependencies from the environment: `CONNECTIONS_TABLE`, `PRESENCE_TABLE` (members found
 * gone leave the channel's presence), `RATES_TABLE` (optional: they let go of their users' connection holds too) and
 * `CHAT_MANAGEMENT_ENDPOINT` (the
 * API's execute-api endpoint: a segment never says where to post), and `SEGMENT_QUEUE_URL` (where the members an
 * invocation had no time for are queued again).
 */
export function broadcastWorkerDepsFromEnv(env: Env = process.env, options: WiringOptions = {}): BroadcastWorkerDeps {
  const aws = options.aws ?? {};
  const endpoint = requireEnv("CHAT_MANAGEMENT_ENDPOINT", env);
  const segmentQueue = segmentQueueFromEnv(env, options);
  const doc = documentClient(aws);
  return {
    connections: new ConnectionStore(doc, requireEnv("CONNECTIONS_TABLE", env)),
    presence: new PresenceStore(doc, requireEnv("PRESENCE_TABLE", env)),
    ...(env.RATES_TABLE ? { rates: new RateStore(doc, env.RATES_TABLE) } : {}),
    poster: posterCache({ ...aws, region: requireRegion(aws, env) })(endpoint),
    ...(segmentQueue ? { segmentQueue } : {}),
    logger: options.logger ?? newLogger(),
    ...((options.metrics ?? true) ? chatMetrics() : {}),
  };
}

/** The Region the functions sign posts for: checked at cold start. */
function requireRegion(aws: AwsClientOptions, env: Env): string {
  const region = aws.region ?? env.AWS_REGION;
  if (!region) throw new ConfigurationError("environment variable AWS_REGION is required");
  return region;
}
