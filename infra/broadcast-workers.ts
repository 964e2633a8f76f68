import { Duration } from "aws-cdk-lib";
import type { Function as LambdaFunction } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { limits } from "../lambda/core/limits.ts";
import { ChatFunction, type ChatLogLevel } from "./chat-function.ts";
import type { ChatTables } from "./chat-tables.ts";
import { acknowledgeGrantWildcards } from "./nag.ts";

/** Properties of {@link BroadcastWorkers}. */
export interface BroadcastWorkersProps {
  /** The connections table, from which workers remove members that answer 410 Gone. */
  readonly tables: ChatTables;
  /**
   * Workers running at once. Each posts about as fast as one `$default` function; API Gateway's account-wide
   * management API limit (10,000 requests/s by default) is what many of them share. Default: 50.
   */
  readonly maxConcurrency?: number;
  /** Powertools log level. Default: "INFO". */
  readonly logLevel?: ChatLogLevel;
  /** How long the worker's logs are kept. Default: one month. */
  readonly logRetention?: RetentionDays;
}

/** A worker's time per segment (`limits.segmentWorkerTimeoutSeconds`, which the local stack's queue uses too). */
export const WORKER_TIMEOUT = Duration.seconds(limits.segmentWorkerTimeoutSeconds);

/**
 * Receives of a segment before it goes to the dead-letter queue (`limits.segmentMaxReceives`, which the local stack's
 * queue uses too). AWS advises at least 5 for a Lambda event source, so that throttled or briefly failing invocations
 * do not send messages there (AWS doc "Using Lambda with Amazon SQS").
 */
export const MAX_RECEIVE_COUNT = limits.segmentMaxReceives;

/**
 * Sharded fan-out for large channels: the queue the WebSocket routes hand segments of a channel's membership to, its
 * dead-letter queue, and the worker function that delivers each segment. The routes get permission to send (and the
 * queue's URL) from `ChatFunctions`; the worker's permission to post to connections comes from the WebSocket API.
 */
export class BroadcastWorkers extends Construct {
  /** Segments waiting for a worker. */
  readonly queue: Queue;
  /** Segments that failed {@link MAX_RECEIVE_COUNT} deliveries. */
  readonly deadLetters: Queue;
  /** The worker function. */
  readonly worker: LambdaFunction;

  constructor(scope: Construct, id: string, props: BroadcastWorkersProps) {
    super(scope, id);
    const maxConcurrency = props.maxConcurrency ?? 50;
    // The SQS event source accepts 2–1,000.
    if (maxConcurrency < 2 || maxConcurrency > 1_000) throw new Error("maxConcurrency must be between 2 and 1000");
    this.deadLetters = new Queue(this, "DeadLetters", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, "Segments", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // A segment is a moment's chat: one not delivered within an hour is not worth delivering.
      retentionPeriod: Duration.hours(1),
      // AWS's advice for Lambda sources: six times the function's timeout, so a segment still being delivered (or
      // waiting out a throttled invocation) is not received again (AWS doc "Using Lambda with Amazon SQS").
      visibilityTimeout: Duration.seconds(WORKER_TIMEOUT.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    const worker = new ChatFunction(this, "Worker", {
      entry: "broadcast-worker",
      description: "Chat broadcast worker: delivers one segment of a large channel",
      // The queue too: members a worker had no time left for go back on it as a segment of their own, so SQS never
      // delivers again (and duplicates) a segment that was partly posted.
      environment: {
        CONNECTIONS_TABLE: props.tables.connections.tableName,
        PRESENCE_TABLE: props.tables.presence.tableName,
        RATES_TABLE: props.tables.rates.tableName,
        SEGMENT_QUEUE_URL: this.queue.queueUrl,
      },
      // Posting is network-bound, and Lambda's network bandwidth and CPU grow with memory.
      memorySize: 1024,
      timeout: WORKER_TIMEOUT,
      logLevel: props.logLevel,
      logRetention: props.logRetention,
    }).fn;
    this.queue.grantSendMessages(worker);
    // Members a segment finds gone leave the channel's presence and let go of their users' connection holds.
    props.tables.presence.grantReadWriteData(worker);
    props.tables.rates.grantReadWriteData(worker);
    worker.addEventSource(
      new SqsEventSource(this.queue, { batchSize: 1, reportBatchItemFailures: true, maxConcurrency }),
    );
    acknowledgeGrantWildcards(
      worker,
      props.tables.connections.grantReadWriteData(worker),
      "grantReadWriteData covers the table's indexes as `index/*`; the worker only deletes stale connections by key, " +
        "and byChannel is the table's only index.",
    );
    this.worker = worker;
  }
}
