import * as v from "valibot";
import { type BroadcastDeps, type BroadcastResult, removeGone } from "../core/broadcast.ts";
import type { Member } from "../core/connection-store.ts";
import { limits } from "../core/limits.ts";
import type { CoreLogger } from "../core/logger.ts";
import type { PresenceStore } from "../core/presence-store.ts";
import type { RateStore } from "../core/rate-store.ts";
import { deliverSegment, type SegmentJob, type SegmentQueue, segmentJobSchema } from "../core/sharded-fanout.ts";
import { sqsSafeJson } from "../core/sqs-body.ts";
import {
  CLEANUP_RESERVE_MS,
  type InvocationClock,
  invocationBudget,
  POST_MIN_WINDOW_MS,
  type TimeBudget,
} from "../core/time-budget.ts";

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
   * Segments only exist for channels of more than 2,000 connections, hence of more users than any presence limit
   * allows (`presenceLimitMax`), so no notices are sent here.
   */
  readonly presence?: Pick<PresenceStore, "depart">;
  /** Users' connection holds: a member found gone lets go of its own, as its `$disconnect` would have. */
  readonly rates?: Pick<RateStore, "releaseConnection">;
  /**
   * Where the members a segment's invocation ran out of time for are queued again (the segment queue itself).
   * Without it such a segment is left to SQS to deliver again, which is safe only when none of it was posted.
   */
  readonly segmentQueue?: SegmentQueue;
  readonly onBroadcast?: (channel: string, result: BroadcastResult, durationMs: number) => void;
  readonly flushMetrics?: () => void;
}

/**
 * Members found gone leave their channel's presence (no notices: see `presence`), a few at once, each started only
 * while `budget` has time left. Failures and the members not reached are logged as counts; neither fails the segment.
 */
async function departWithin(
  deps: BroadcastWorkerDeps,
  channel: string,
  members: readonly Member[],
  budget: TimeBudget | undefined,
): Promise<void> {
  const presence = deps.presence;
  if (!presence || members.length === 0) return;
  let next = 0;
  let failed = 0;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (next < members.length && !(budget && budget.remainingMs() <= 0)) {
      const member = members[next++] as Member;
      await Promise.all([
        presence.depart(channel, member.username, member.connectionId),
        deps.rates?.releaseConnection(member.username, member.connectionId),
      ]).catch((error: unknown) => {
        failed++;
        firstError ??= error;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(limits.departConcurrency, members.length) }, worker));
  if (failed > 0) {
    deps.logger.warn("presence of stale connections not updated", { channel, count: failed, error: firstError });
  }
  if (next < members.length) {
    deps.logger.warn("presence of stale connections left: no time to update it", {
      channel,
      count: members.length - next,
    });
  }
}

/**
 * The broadcast worker: each SQS record is one segment of a large channel's membership, posted to through the
 * management API endpoint of the function's configuration (never one named by the message). A malformed record is
 * logged and dropped (delivering it again would not help).
 *
 * Time: with Lambda's context, posts fit the invocation (see `time-budget.ts`): no post starts once too little time
 * is left, and each post's timeout ends before the reserve. The members not posted to are then handled first, so that
 * each member gets the frame exactly once:
 * - some of the record was posted to: the rest goes back on the queue as a new segment (one more hop) and the record
 *   counts as done. Returning the record instead would make SQS deliver it whole again, and the members already
 *   posted to would get the frame twice;
 * - none of it was posted to, its remainder could not be queued, or it already hopped `limits.segmentMaxHops` times:
 *   the record is returned as a batch item failure for SQS to deliver again. That is exact when nothing was posted;
 *   otherwise it is the one case that can repeat a frame, chosen over losing it for the rest (and logged). The hop
 *   limit makes a segment that never fits reach the dead-letter queue through SQS's receive count, which a new message
 *   would restart at 0.
 * Only then are the stale members removed and their departures made, each step started only before
 * `CLEANUP_RESERVE_MS`: what is left is logged as a count, and those members answer 410 again next time.
 * Records after the one where time ran out are returned untouched. A record whose delivery throws (a bug: posters
 * and stale removal report their failures instead) is returned too.
 */
export function createBroadcastWorkerHandler(deps: BroadcastWorkerDeps) {
  /** What becomes of the members `job`'s invocation did not post to. */
  const handOn = async (
    messageId: string,
    job: SegmentJob,
    unsent: Member[],
    posts: number,
  ): Promise<"done" | "again"> => {
    if (unsent.length === 0) return "done";
    if (posts === 0) return "again";
    const hops = job.hops ?? 0;
    if (hops >= limits.segmentMaxHops) {
      deps.logger.error("segment out of time too often: SQS delivers it again, some members twice", {
        messageId,
        channel: job.channel,
        hops,
        members: unsent.length,
      });
      return "again";
    }
    try {
      if (!deps.segmentQueue) throw new Error("no segment queue to hand the rest to");
      await deps.segmentQueue.enqueue([{ ...job, members: unsent, hops: hops + 1 }]);
      deps.logger.info("segment remainder queued", { messageId, channel: job.channel, members: unsent.length, hops });
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

  const deliverRecord = async (
    record: SqsEvent["Records"][number],
    budget: TimeBudget | undefined,
    cleanup: TimeBudget | undefined,
  ): Promise<"done" | "again"> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(record.body);
    } catch {
      parsed = undefined;
    }
    const segment = v.safeParse(segmentJobSchema, parsed);
    if (!segment.success) {
      deps.logger.error("malformed segment dropped", { messageId: record.messageId });
      return "done";
    }
    const job = segment.output;
    const { messageId } = record;
    const started = performance.now();
    const { result, unsent, posts, gone } = await deliverSegment(deps, job, budget);
    const outcome = await handOn(messageId, job, unsent, posts);
    const { removed, notRemoved } = await removeGone(deps, job.channel, gone, { budget: cleanup });
    result.notRemoved = notRemoved;
    await departWithin(deps, job.channel, removed, cleanup);
    deps.onBroadcast?.(job.channel, result, performance.now() - started);
    deps.logger.info("segment delivered", { messageId, channel: job.channel, ...result });
    return outcome;
  };

  return async (event: SqsEvent, context?: InvocationClock): Promise<SqsBatchResponse> => {
    const budget = context ? invocationBudget(context) : undefined;
    const cleanup = context ? invocationBudget(context, CLEANUP_RESERVE_MS) : undefined;
    const batchItemFailures: { itemIdentifier: string }[] = [];
    try {
      for (const record of event.Records) {
        if (budget && budget.remainingMs() < POST_MIN_WINDOW_MS) {
          // No time to start this record: nothing of it was posted, so SQS may deliver it again as it is.
          batchItemFailures.push({ itemIdentifier: record.messageId });
          continue;
        }
        try {
          if ((await deliverRecord(record, budget, cleanup)) === "again") {
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
