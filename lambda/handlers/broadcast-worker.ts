import * as v from "valibot";
import type { BroadcastDeps, BroadcastResult } from "../core/broadcast.ts";
import type { Member } from "../core/connection-store.ts";
import type { CoreLogger } from "../core/logger.ts";
import type { PresenceStore } from "../core/presence-store.ts";
import { deliverSegment, type SegmentJob, type SegmentQueue, segmentJobSchema } from "../core/sharded-fanout.ts";
import { sqsSafeJson } from "../core/sqs-body.ts";
import { type InvocationClock, invocationBudget, POST_MIN_WINDOW_MS, type TimeBudget } from "../core/time-budget.ts";

/**
 * A segment as it travels on the queue: the job alone. Messages queued before an upgrade may still name an `endpoint`;
 * it is accepted and ignored (valibot's `object` drops unknown keys): the worker posts only where its own
 * configuration says, so a forged or stale message cannot redirect posts.
 */
export const queuedSegmentSchema = segmentJobSchema;
export type QueuedSegment = v.InferOutput<typeof queuedSegmentSchema>;

/**
 * The segment message for `job`: JSON in which every character SQS refuses is escaped (see `sqsSafeJson`), so no chat
 * message can make the send fail, and the worker's `JSON.parse` gives back the same job.
 */
export const queuedSegment = (job: SegmentJob): string => sqsSafeJson(job);

/** The part of an SQS event the worker reads. */
export interface SqsEvent {
  Records: { messageId: string; body: string }[];
}

/** SQS's partial batch response: the records to deliver again. */
export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** Dependencies of the broadcast worker. */
export interface BroadcastWorkerDeps extends BroadcastDeps {
  readonly logger: CoreLogger;
  /**
   * The channels' presence: members a segment finds gone (410) leave it, as their `$disconnect` would have made them.
   * Segments only exist for channels far larger than any with join and leave notices, so none are sent here.
   */
  readonly presence?: Pick<PresenceStore, "depart">;
  /**
   * Where the members a segment's invocation ran out of time for are queued again (the segment queue itself).
   * Without it such a segment is left to SQS to deliver again, which is safe only when none of it was posted.
   */
  readonly segmentQueue?: SegmentQueue;
  readonly onBroadcast?: (channel: string, result: BroadcastResult, durationMs: number) => void;
  readonly flushMetrics?: () => void;
}

/** Members found gone leave their channel's presence, one after the other (no notices: see `presence`). */
const departed =
  (deps: BroadcastWorkerDeps) =>
  async (channel: string, members: Member[]): Promise<void> => {
    for (const member of members) await deps.presence?.depart(channel, member.username, member.connectionId);
  };

/**
 * The broadcast worker: each SQS record is one segment of a large channel's membership, posted to through the
 * management API endpoint of the function's configuration (never one named by the message). A malformed record is
 * logged and dropped (delivering it again would not help).
 *
 * Time: with Lambda's context, posts fit the invocation (see `time-budget.ts`): no post starts once too little time
 * is left, and each post's timeout ends before the reserve. The members not posted to are then handled so that each
 * member gets the frame exactly once:
 * - some of the record was posted to: the rest goes back on the queue as a new segment and the record counts as
 *   done. Returning the record instead would make SQS deliver it whole again, and the members already posted to would
 *   get the frame twice;
 * - none of it was posted to (or its remainder could not be queued): the record is returned as a batch item failure
 *   for SQS to deliver again. That is exact when nothing was posted; when the remainder could not be queued it is
 *   the one case that can repeat a frame, chosen over losing it for the rest (and logged).
 * Records after the one where time ran out are returned untouched. A record whose delivery throws (a bug: posters
 * and stale removal report their failures instead) is returned too.
 */
export function createBroadcastWorkerHandler(deps: BroadcastWorkerDeps) {
  const deliverRecord = async (
    record: SqsEvent["Records"][number],
    budget: TimeBudget | undefined,
  ): Promise<"done" | "again"> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(record.body);
    } catch {
      parsed = undefined;
    }
    const segment = v.safeParse(queuedSegmentSchema, parsed);
    if (!segment.success) {
      deps.logger.error("malformed segment dropped", { messageId: record.messageId });
      return "done";
    }
    const job = segment.output;
    const { messageId } = record;
    const started = performance.now();
    const { result, unsent, posts } = await deliverSegment({ ...deps, onGone: departed(deps) }, job, budget);
    deps.onBroadcast?.(job.channel, result, performance.now() - started);
    deps.logger.info("segment delivered", { messageId, channel: job.channel, ...result });
    if (unsent.length === 0) return "done";
    if (posts === 0) return "again";
    try {
      if (!deps.segmentQueue) throw new Error("no segment queue to hand the rest to");
      await deps.segmentQueue.enqueue([{ ...job, members: unsent }]);
      deps.logger.info("segment remainder queued", { messageId, channel: job.channel, members: unsent.length });
      return "done";
    } catch (error) {
      deps.logger.error("segment remainder not queued: SQS delivers the segment again, some members twice", {
        messageId,
        channel: job.channel,
        members: unsent.length,
        error,
      });
      return "again";
    }
  };

  return async (event: SqsEvent, context?: InvocationClock): Promise<SqsBatchResponse> => {
    const budget = context ? invocationBudget(context) : undefined;
    const batchItemFailures: { itemIdentifier: string }[] = [];
    try {
      for (const record of event.Records) {
        if (budget && budget.remainingMs() < POST_MIN_WINDOW_MS) {
          // No time to start this record: nothing of it was posted, so SQS may deliver it again as it is.
          batchItemFailures.push({ itemIdentifier: record.messageId });
          continue;
        }
        try {
          if ((await deliverRecord(record, budget)) === "again") {
            batchItemFailures.push({ itemIdentifier: record.messageId });
          }
        } catch (error) {
          deps.logger.error("segment failed", { messageId: record.messageId, error });
          batchItemFailures.push({ itemIdentifier: record.messageId });
        }
      }
      return { batchItemFailures };
    } finally {
      deps.flushMetrics?.();
    }
  };
}
