import { createHash, randomUUID } from "node:crypto";
import {
  InvalidMessageContents,
  type SendMessageBatchRequestEntry,
  type SendMessageBatchResult,
  TooManyEntriesInBatchRequest,
} from "@aws-sdk/client-sqs";
import { limits } from "../lambda/core/limits.ts";
import type { CoreLogger } from "../lambda/core/logger.ts";
import type { SegmentQueue } from "../lambda/core/sharded-fanout.ts";
import { firstInvalidSqsCharacter } from "../lambda/core/sqs-body.ts";
import type { InvocationClock } from "../lambda/core/time-budget.ts";
import type { SqsBatchResponse, SqsEvent } from "../lambda/handlers/broadcast-worker.ts";
import { segmentQueueOver } from "../lambda/runtime/sqs-segment-queue.ts";

/** Options of the local stand-in for the SQS queue and its worker function. */
export interface InProcessQueueOptions {
  /** Workers running at once (the SQS event source's maximum concurrency). Default: 4. */
  readonly concurrency?: number;
  /**
   * Deliveries of one message before it goes to the dead letters (the queue's redrive policy). Default: as deployed,
   * `limits.segmentMaxReceives`.
   */
  readonly maxReceiveCount?: number;
  /** The worker function's timeout, from which each delivery's context counts down. Default: as deployed. */
  readonly workerTimeoutMs?: number;
  /** Epoch milliseconds, for the contexts' clock. Default: `Date.now`. */
  readonly now?: () => number;
  readonly logger: CoreLogger;
}

/** The broadcast worker as the queue invokes it: an SQS event and Lambda's context. */
export type SegmentWorker = (event: SqsEvent, context: InvocationClock) => Promise<SqsBatchResponse>;

/**
 * A Lambda-like context for an invocation starting now with `timeoutMs` in all: its remaining time counts down as
 * Lambda's `getRemainingTimeInMillis` does (and goes below 0 where Lambda would have stopped the function).
 */
export function lambdaContext(
  timeoutMs = limits.segmentWorkerTimeoutSeconds * 1_000,
  now: () => number = Date.now,
): InvocationClock {
  const deadline = now() + timeoutMs;
  return { getRemainingTimeInMillis: () => deadline - now() };
}

interface Message {
  record: { messageId: string; body: string };
  receives: number;
}

/** SendMessageBatch takes at most this many entries. */
const MAX_BATCH_ENTRIES = 10;

/** SQS's words for a body with a character outside its set. */
const INVALID_CONTENTS = "The message contains characters outside the allowed set.";

/** Why SQS would refuse `body`, or undefined when it takes it. */
function invalidContents(body: string): string | undefined {
  const at = firstInvalidSqsCharacter(body);
  if (at === -1) return undefined;
  const unit = body.charCodeAt(at).toString(16).toUpperCase().padStart(4, "0");
  return `${INVALID_CONTENTS} (U+${unit} at ${at})`;
}

/**
 * SQS and the broadcast worker's event source, in process: `enqueue` returns once the segments are accepted, and
 * workers (the same handler module as the cloud's worker function, given SQS-shaped events one record at a time)
 * deliver them in the background, each invocation with a Lambda-like context (the worker function's timeout counting
 * down), so its time budget and the hand-on of what it had no time for run as deployed. A record the worker reports
 * as failed is delivered again, up to the receive count (as deployed), then kept in `deadLetters`.
 * Segments reach it through the same code as SQS's (`segmentQueueOver`), and it refuses a body exactly where SQS
 * would: a character outside SQS's set fails that entry with `InvalidMessageContents` (AWS doc "SendMessage",
 * "SendMessageBatch": each entry's result is reported on its own).
 */
export class InProcessSegmentQueue {
  /** Messages that failed every delivery, as SQS would move them to the dead-letter queue. */
  readonly deadLetters: string[] = [];
  private readonly waiting: Message[] = [];
  private running = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly concurrency: number;
  private readonly maxReceiveCount: number;
  /** The queue as the functions see it, sending through the same code as SQS's. */
  readonly queue: SegmentQueue;

  constructor(
    private readonly worker: SegmentWorker,
    private readonly options: InProcessQueueOptions,
  ) {
    this.concurrency = options.concurrency ?? 4;
    this.maxReceiveCount = options.maxReceiveCount ?? limits.segmentMaxReceives;
    this.queue = segmentQueueOver(async (entries) => this.sendMessageBatch(entries));
  }

  /** `SendMessage`: the message is queued, or refused with SQS's `InvalidMessageContents`. */
  sendMessage(body: string): { MessageId: string } {
    const invalid = invalidContents(body);
    if (invalid) throw new InvalidMessageContents({ message: invalid, $metadata: { httpStatusCode: 400 } });
    return { MessageId: this.accept(body) };
  }

  /** `SendMessageBatch`, as SQS answers it: each entry succeeds or fails on its own, with SQS's error code. */
  sendMessageBatch(entries: SendMessageBatchRequestEntry[]): SendMessageBatchResult {
    if (entries.length > MAX_BATCH_ENTRIES) {
      throw new TooManyEntriesInBatchRequest({
        message: `Maximum number of entries per request are ${MAX_BATCH_ENTRIES}. You have sent ${entries.length}.`,
        $metadata: { httpStatusCode: 400 },
      });
    }
    const Successful: NonNullable<SendMessageBatchResult["Successful"]> = [];
    const Failed: NonNullable<SendMessageBatchResult["Failed"]> = [];
    for (const { Id, MessageBody = "" } of entries) {
      const invalid = invalidContents(MessageBody);
      if (invalid) Failed.push({ Id, SenderFault: true, Code: "InvalidMessageContents", Message: invalid });
      else {
        const MD5OfMessageBody = createHash("md5").update(MessageBody).digest("hex");
        Successful.push({ Id, MessageId: this.accept(MessageBody), MD5OfMessageBody });
      }
    }
    return { Successful, Failed };
  }

  private accept(body: string): string {
    const messageId = randomUUID();
    this.waiting.push({ record: { messageId, body }, receives: 0 });
    this.pump();
    return messageId;
  }

  private pump(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const message = this.waiting.shift() as Message;
      this.running++;
      void this.deliver(message).finally(() => {
        this.running--;
        this.pump();
        if (this.running === 0 && this.waiting.length === 0)
          for (const resolve of this.idleWaiters.splice(0)) resolve();
      });
    }
  }

  private async deliver(message: Message): Promise<void> {
    message.receives++;
    const context = lambdaContext(this.options.workerTimeoutMs, this.options.now);
    const failed = await this.worker({ Records: [message.record] }, context).then(
      (response) => response.batchItemFailures.length > 0,
      (error: unknown) => {
        this.options.logger.error("broadcast worker failed", { error });
        return true;
      },
    );
    if (!failed) return;
    if (message.receives < this.maxReceiveCount) this.waiting.push(message);
    else this.deadLetters.push(message.record.body);
  }

  /** Resolves once every accepted segment has been delivered (or dead-lettered). */
  idle(): Promise<void> {
    if (this.running === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
