import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { jitteredDelay, sleep } from "../core/backoff.ts";
import { limits } from "../core/limits.ts";
import type { SegmentJob, SegmentQueue } from "../core/sharded-fanout.ts";
import { queuedSegment } from "../handlers/broadcast-worker.ts";

/** Segments that SQS would not take within the bounded attempts; the broadcast cannot be completed. */
export class SegmentQueueError extends Error {
  override readonly name = "SegmentQueueError";
}

/** Groups message bodies into SendMessageBatch calls within SQS's limits (10 messages, 256 KiB). */
export function batches(bodies: string[]): string[][] {
  const groups: string[][] = [];
  let group: string[] = [];
  let bytes = 0;
  for (const body of bodies) {
    const size = Buffer.byteLength(body);
    if (group.length > 0 && (group.length >= limits.segmentBatchMessages || bytes + size > limits.segmentBatchBytes)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(body);
    bytes += size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * Segment queues over SQS, one per management API endpoint (the workers post where the dispatcher would have).
 * Entries SQS reports as failed are sent again with jittered backoff, a bounded number of times.
 */
export function sqsSegmentQueueFor(
  client: SQSClient,
  queueUrl: string,
  wait: (ms: number) => Promise<void> = sleep,
): (endpoint: string) => SegmentQueue {
  return (endpoint) => ({
    async enqueue(jobs: SegmentJob[]): Promise<void> {
      for (const group of batches(jobs.map((job) => queuedSegment(endpoint, job)))) {
        let entries = group.map((body, i) => ({ Id: String(i), MessageBody: body }));
        for (let attempt = 0; entries.length > 0; attempt++) {
          if (attempt >= limits.batchWriteAttempts) {
            throw new SegmentQueueError(`${entries.length} broadcast segments could not be queued`);
          }
          if (attempt > 0) await wait(jitteredDelay(attempt, limits.batchWriteBackoffMs));
          const result = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
          const failed = new Set((result.Failed ?? []).map((failure) => failure.Id));
          entries = entries.filter((entry) => failed.has(entry.Id));
        }
      }
    },
  });
}
