import { randomUUID } from "node:crypto";
import type { CoreLogger } from "../lambda/core/logger.ts";
import type { SegmentJob, SegmentQueue } from "../lambda/core/sharded-fanout.ts";
import { queuedSegment, type SqsBatchResponse, type SqsEvent } from "../lambda/handlers/broadcast-worker.ts";

/** Options of the local stand-in for the SQS queue and its worker function. */
export interface InProcessQueueOptions {
  /** Workers running at once (the SQS event source's maximum concurrency). Default: 4. */
  readonly concurrency?: number;
  /** Deliveries of one message before it goes to the dead letters (the queue's redrive policy). Default: 3. */
  readonly maxReceiveCount?: number;
  readonly logger: CoreLogger;
}

interface Message {
  record: { messageId: string; body: string };
  receives: number;
}

/**
 * SQS and the broadcast worker's event source, in process: `enqueue` returns once the segments are accepted, and
 * workers (the same handler module as the cloud's worker function, given SQS-shaped events one record at a time)
 * deliver them in the background. A record the worker reports as failed is delivered again, up to the receive count.
 */
export class InProcessSegmentQueue {
  /** Messages that failed every delivery, as SQS would move them to the dead-letter queue. */
  readonly deadLetters: string[] = [];
  private readonly waiting: Message[] = [];
  private running = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly concurrency: number;
  private readonly maxReceiveCount: number;

  constructor(
    private readonly worker: (event: SqsEvent) => Promise<SqsBatchResponse>,
    private readonly options: InProcessQueueOptions,
  ) {
    this.concurrency = options.concurrency ?? 4;
    this.maxReceiveCount = options.maxReceiveCount ?? 3;
  }

  /** The queue as the dispatcher for one management API endpoint sees it. */
  readonly queueFor = (endpoint: string): SegmentQueue => ({
    enqueue: async (jobs: SegmentJob[]) => {
      for (const job of jobs) {
        this.waiting.push({ record: { messageId: randomUUID(), body: queuedSegment(endpoint, job) }, receives: 0 });
      }
      this.pump();
    },
  });

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
    const failed = await this.worker({ Records: [message.record] }).then(
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
