import * as v from "valibot";
import {
  type BroadcastDeps,
  type BroadcastOptions,
  type BroadcastResult,
  broadcast,
  type Delivery,
  deliver,
  deliverWithin,
  eachMember,
} from "./broadcast.ts";
import type { Member } from "./connection-store.ts";
import { limits } from "./limits.ts";
import type { TimeBudget } from "./time-budget.ts";

/** A slice of a large channel's membership for one broadcast worker: who, and the frame already encoded. */
export const segmentJobSchema = v.object({
  channel: v.string(),
  /** The frame as JSON text, posted as is. */
  frame: v.string(),
  members: v.array(v.object({ connectionId: v.string(), username: v.string(), connectedAt: v.optional(v.number()) })),
  /**
   * How many times this segment's remainder was queued again after a worker ran out of time: 0 for a segment as the
   * fan-out made it (and for messages written before the field existed), at most `limits.segmentMaxHops`.
   */
  hops: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(limits.segmentMaxHops)), 0),
});
/** A segment as it is queued (`hops` left out when 0). */
export type SegmentJob = v.InferInput<typeof segmentJobSchema>;

/** Where segments go: an SQS queue with a worker function in the cloud, in-process workers locally. */
export interface SegmentQueue {
  enqueue(jobs: SegmentJob[]): Promise<void>;
}

/** What a sharded-capable fan-out needs: a broadcast's dependencies, and the queue when sharding is on. */
export interface FanOutDeps extends BroadcastDeps {
  readonly segmentQueue?: SegmentQueue;
}

const empty = (): BroadcastResult => ({ delivered: 0, gone: 0, connecting: 0, failed: 0, notRemoved: 0 });

/**
 * Sends a frame to a channel. Up to `limits.shardThreshold` members, the caller posts to them itself; beyond that,
 * the membership is read on (keys and names only, page by page) and split into segments of `limits.segmentSize` that
 * broadcast workers deliver in parallel, each with the same bounded, retrying, stale-removing delivery. The result
 * then counts the members handed over (`queued`, `segments`); the workers report their own deliveries.
 */
export async function fanOut(
  deps: FanOutDeps,
  channel: string,
  frame: unknown,
  options: BroadcastOptions = {},
): Promise<BroadcastResult> {
  if (!deps.segmentQueue) return broadcast(deps, channel, frame, options);
  const data = JSON.stringify(frame);
  const members = eachMember(options.pages ?? deps.connections.memberPages(channel), options.exclude);
  const head: Member[] = [];
  let next = await members.next();
  while (!next.done && head.length <= limits.shardThreshold) {
    head.push(next.value);
    next = await members.next();
  }
  if (next.done) return deliver(deps, channel, head[Symbol.iterator](), Buffer.from(data), options);

  const queue = deps.segmentQueue;
  const result = { ...empty(), queued: 0, segments: 0 };
  let segment: Member[] = [];
  const pending: SegmentJob[] = [];
  const flush = async (force: boolean) => {
    if (segment.length > 0 && (force || segment.length >= limits.segmentSize)) {
      pending.push({ channel, frame: data, members: segment });
      result.queued += segment.length;
      result.segments++;
      segment = [];
    }
    // Hand over in groups, so workers start while the rest of the index is still being read.
    if (pending.length >= limits.segmentBatchMessages || (force && pending.length > 0)) {
      await queue.enqueue(pending.splice(0));
    }
  };
  for (const member of head) {
    segment.push(member);
    await flush(false);
  }
  for (; !next.done; next = await members.next()) {
    segment.push(next.value);
    await flush(false);
  }
  await flush(true);
  return result;
}

/**
 * A broadcast worker's part: deliver one segment, within `budget` when there is one, and say who was not posted to
 * (see {@link deliverWithin}).
 */
export function deliverSegment(deps: BroadcastDeps, job: SegmentJob, budget?: TimeBudget): Promise<Delivery> {
  return deliverWithin(deps, job.channel, job.members[Symbol.iterator](), Buffer.from(job.frame), { budget });
}
