import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SendMessageBatchResult,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { jitteredDelay, sleep } from "../core/backoff.ts";
import { limits } from "../core/limits.ts";
import type { SegmentJob, SegmentQueue } from "../core/sharded-fanout.ts";
import { queuedSegment } from "../handlers/broadcast-worker.ts";

/** Segments that SQS would not take within the bounded attempts, or refused outright; the broadcast cannot be completed. */
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

/** One `SendMessageBatch` call to the segment queue: SQS's, or the local stack's stand-in for it. */
export type SendMessageBatch = (
  entries: SendMessageBatchRequestEntry[],
) => Promise<Pick<SendMessageBatchResult, "Failed">>;

/**
 * A segment queue over `SendMessageBatch`: bodies as `queuedSegment` writes them, grouped within SQS's limits. Entries
 * that failed on SQS's side are sent again with jittered backoff, a bounded number of times; an entry refused as the
 * sender's fault (e.g. `InvalidMessageContents`) would be refused again, so it fails the enqueue at once.
 */
export function segmentQueueOver(send: SendMessageBatch, wait: (ms: number) => Promise<void> = sleep): SegmentQueue {
  return {
    async enqueue(jobs: SegmentJob[]): Promise<void> {
      for (const group of batches(jobs.map(queuedSegment))) {
        let entries = group.map((body, i) => ({ Id: String(i), MessageBody: body }));
        for (let attempt = 0; entries.length > 0; attempt++) {
          if (attempt >= limits.batchWriteAttempts) {
            throw new SegmentQueueError(`${entries.length} broadcast segments could not be queued`);
          }
          if (attempt > 0) await wait(jitteredDelay(attempt, limits.batchWriteBackoffMs));
          const failures = (await send(entries)).Failed ?? [];
          const refused = failures.filter((failure) => failure.SenderFault);
          if (refused.length > 0) {
            const [first] = refused;
            throw new SegmentQueueError(
              `${refused.length} broadcast segments refused: ${first?.Code ?? "unknown"}: ${first?.Message ?? ""}`,
            );
          }
          const failed = new Set(failures.map((failure) => failure.Id));
          entries = entries.filter((entry) => failed.has(entry.Id));
        }
      }
    },
  };
}

/** The segment queue over the SQS queue at `queueUrl`. */
export function sqsSegmentQueue(
  client: SQSClient,
  queueUrl: string,
  wait: (ms: number) => Promise<void> = sleep,
): SegmentQueue {
  return segmentQueueOver(
    (entries) => client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries })),
    wait,
  );
}
