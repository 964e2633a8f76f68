import type { StreamRecord, StreamTable } from "../lambda/core/chat-events.ts";
import type { CoreLogger } from "../lambda/core/logger.ts";
import type { DynamoStreamEvent, StreamBatchResponse } from "../lambda/handlers/chat-events.ts";

/** How the local stack reads its emulated streams, as Lambda's event source mapping does (infra/events.ts). */
export interface StreamPollerOptions {
  /** Records per invocation. Default: 100, as deployed. */
  readonly batchSize?: number;
  /** Invocations of a batch that fails before its records are dropped (deployed: sent to a queue). Default: 10. */
  readonly retryAttempts?: number;
  /** Base delay between retries, doubled each time up to a second. Default: 100 ms. */
  readonly retryBaseMs?: number;
}

/**
 * Lambda's DynamoDB event source mapping, for the local stack: one queue per stream, read in order, one batch in
 * flight per stream. A batch whose response names a failed record is retried from that record; one that throws is
 * retried whole; after the retries its records are dropped and logged (deployed, they go to the on-failure queue).
 * Nothing here is awaited by a write: the records come in after the store has answered.
 */
export class StreamPoller {
  private readonly queues = new Map<StreamTable, StreamRecord[]>();
  private readonly draining = new Map<StreamTable, Promise<void>>();
  private readonly batchSize: number;
  private readonly retryAttempts: number;
  private readonly retryBaseMs: number;
  private closed = false;

  constructor(
    private readonly invoke: (event: DynamoStreamEvent) => Promise<StreamBatchResponse>,
    private readonly logger: CoreLogger,
    options: StreamPollerOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 100;
    this.retryAttempts = options.retryAttempts ?? 10;
    this.retryBaseMs = options.retryBaseMs ?? 100;
  }

  /** Adds a stream's new records, in order. */
  add(table: StreamTable, records: StreamRecord[]): void {
    if (this.closed) return;
    const queue = this.queues.get(table) ?? [];
    queue.push(...records);
    this.queues.set(table, queue);
    if (!this.draining.has(table)) {
      const drain = this.drain(table).finally(() => this.draining.delete(table));
      this.draining.set(table, drain);
    }
  }

  /** Waits until every record added so far has been handled (for tests and a clean close). */
  async idle(): Promise<void> {
    while (this.draining.size > 0) await Promise.all(this.draining.values());
  }

  /** Stops reading; records still queued are dropped. */
  close(): void {
    this.closed = true;
    this.queues.clear();
  }

  private async drain(table: StreamTable): Promise<void> {
    const queue = this.queues.get(table) ?? [];
    let attempts = 0;
    while (queue.length > 0 && !this.closed) {
      const batch = queue.slice(0, this.batchSize);
      let handled = batch.length;
      try {
        const answer = await this.invoke({ Records: batch });
        const failed = answer?.batchItemFailures?.[0]?.itemIdentifier;
        if (failed !== undefined) {
          const at = batch.findIndex((record) => record.dynamodb?.SequenceNumber === failed);
          // An identifier that names no record of the batch fails the whole batch, as on AWS.
          handled = Math.max(at, 0);
        }
      } catch (error) {
        this.logger.warn("events function failed on a stream batch", { table, records: batch.length, error });
        handled = 0;
      }
      queue.splice(0, handled);
      if (handled === batch.length) {
        attempts = 0;
        continue;
      }
      attempts = handled > 0 ? 1 : attempts + 1;
      if (attempts > this.retryAttempts) {
        const dropped = queue.splice(0, batch.length - handled);
        this.logger.error("stream records dropped after every retry (deployed: sent to the on-failure queue)", {
          table,
          records: dropped.length,
        });
        attempts = 0;
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, this.retryBaseMs * 2 ** (attempts - 1))));
    }
  }
}
