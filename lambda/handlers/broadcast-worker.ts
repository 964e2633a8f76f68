import * as v from "valibot";
import type { BroadcastDeps, BroadcastResult } from "../core/broadcast.ts";
import type { CoreLogger } from "../core/logger.ts";
import type { Poster } from "../core/poster.ts";
import { deliverSegment, type SegmentJob, segmentJobSchema } from "../core/sharded-fanout.ts";

/** A segment as it travels on the queue: the job, and the management API endpoint its connections belong to. */
export const queuedSegmentSchema = v.object({ ...segmentJobSchema.entries, endpoint: v.string() });
export type QueuedSegment = v.InferOutput<typeof queuedSegmentSchema>;

/** The segment message for `job`, bound for `endpoint`. */
export const queuedSegment = (endpoint: string, job: SegmentJob): string => JSON.stringify({ ...job, endpoint });

/** The part of an SQS event the worker reads. */
export interface SqsEvent {
  Records: { messageId: string; body: string }[];
}

/** SQS's partial batch response: the records to deliver again. */
export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** Dependencies of the broadcast worker. */
export interface BroadcastWorkerDeps extends Omit<BroadcastDeps, "poster"> {
  readonly posterFor: (endpoint: string) => Poster;
  readonly logger: CoreLogger;
  readonly onBroadcast?: (channel: string, result: BroadcastResult, durationMs: number) => void;
  readonly flushMetrics?: () => void;
}

/**
 * The broadcast worker: each SQS record is one segment of a large channel's membership. A malformed record is logged
 * and dropped (delivering it again would not help); a record whose delivery throws (e.g. DynamoDB unavailable while
 * removing stale members) is reported back, so SQS delivers it again and finally moves it to the dead-letter queue.
 */
export function createBroadcastWorkerHandler(deps: BroadcastWorkerDeps) {
  return async (event: SqsEvent): Promise<SqsBatchResponse> => {
    const batchItemFailures: { itemIdentifier: string }[] = [];
    try {
      for (const record of event.Records) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(record.body);
        } catch {
          parsed = undefined;
        }
        const segment = v.safeParse(queuedSegmentSchema, parsed);
        if (!segment.success) {
          deps.logger.error("malformed segment dropped", { messageId: record.messageId });
          continue;
        }
        const { endpoint, ...job } = segment.output;
        try {
          const started = performance.now();
          const result = await deliverSegment({ ...deps, poster: deps.posterFor(endpoint) }, job);
          deps.onBroadcast?.(job.channel, result, performance.now() - started);
          deps.logger.info("segment delivered", { messageId: record.messageId, channel: job.channel, ...result });
        } catch (error) {
          deps.logger.error("segment failed", { messageId: record.messageId, channel: job.channel, error });
          batchItemFailures.push({ itemIdentifier: record.messageId });
        }
      }
      return { batchItemFailures };
    } finally {
      deps.flushMetrics?.();
    }
  };
}
