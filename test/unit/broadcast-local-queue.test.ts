import { describe, expect, it } from "vitest";
import { limits } from "../../lambda/core/limits.ts";
import type { SegmentJob } from "../../lambda/core/sharded-fanout.ts";
import type { SqsBatchResponse, SqsEvent } from "../../lambda/handlers/broadcast-worker.ts";
import { InProcessSegmentQueue } from "../../local/in-process-segment-queue.ts";
import { recordingLogger } from "../fixtures.ts";

const job: SegmentJob = { channel: "huge", frame: "{}", members: [{ connectionId: "c0", username: "u0" }] };

describe("the local segment queue, as deployed", () => {
  it("gives each invocation a Lambda context counting down from the worker function's deployed timeout", async () => {
    let now = 1_000;
    const seen: [number, number][] = [];
    const queue = new InProcessSegmentQueue(
      async (_event: SqsEvent, context): Promise<SqsBatchResponse> => {
        const atStart = context.getRemainingTimeInMillis();
        now += 2_500;
        seen.push([atStart, context.getRemainingTimeInMillis()]);
        return { batchItemFailures: [] };
      },
      { logger: recordingLogger(), now: () => now, concurrency: 1 },
    );
    await queue.queue.enqueue([job, job]);
    await queue.idle();
    const timeoutMs = limits.segmentWorkerTimeoutSeconds * 1_000;
    expect(seen).toEqual([
      [timeoutMs, timeoutMs - 2_500],
      [timeoutMs, timeoutMs - 2_500],
    ]);
  });

  it("delivers a failing segment as often as the deployed queue's receive count, then dead-letters it", async () => {
    let receives = 0;
    const queue = new InProcessSegmentQueue(
      async (event: SqsEvent): Promise<SqsBatchResponse> => {
        receives++;
        return { batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })) };
      },
      { logger: recordingLogger() },
    );
    await queue.queue.enqueue([job]);
    await queue.idle();
    expect(receives).toBe(limits.segmentMaxReceives);
    expect(queue.deadLetters).toHaveLength(1);
    expect(JSON.parse(queue.deadLetters[0] ?? "")).toEqual(job);
  });
});
