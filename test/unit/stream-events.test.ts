import { describe, expect, it } from "vitest";
import type { StreamRecord } from "../../lambda/core/chat-events.ts";
import type { DynamoStreamEvent, StreamBatchResponse } from "../../lambda/handlers/chat-events.ts";
import { requiresExistingItem } from "../../local/stream-events.ts";
import { StreamPoller } from "../../local/stream-events-poller.ts";
import { recordingLogger } from "../fixtures.ts";

const record = (n: number): StreamRecord => ({ eventID: `e${n}`, dynamodb: { SequenceNumber: String(n) } });
const records = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => record(from + i));
const sequences = (event: DynamoStreamEvent) => event.Records.map((r) => Number(r.dynamodb?.SequenceNumber));

describe("requiresExistingItem", () => {
  it.each([
    ["contains(#connections, :id)", true],
    ["attribute_exists(#user) AND #n < :max", true],
    ["(attribute_exists(pk))", true],
    ["attribute_not_exists(#connections)", false],
    ["contains(#c, :id) OR attribute_not_exists(pk)", false],
    ["NOT contains(#c, :id)", false],
    [undefined, false],
  ])("knows whether %s holds only for an existing item (%s)", (condition, expected) => {
    expect(requiresExistingItem(condition)).toBe(expected);
  });
});

describe("the local stream poller", () => {
  it("invokes the events function in order, in batches, one batch in flight per stream", async () => {
    const seen: number[][] = [];
    const poller = new StreamPoller(
      async (event) => {
        seen.push(sequences(event));
        return { batchItemFailures: [] };
      },
      recordingLogger(),
      { batchSize: 3 },
    );
    poller.add("history", records(1, 4));
    poller.add("history", records(5, 7));
    await poller.idle();
    expect(seen.flat()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(seen.every((batch) => batch.length <= 3)).toBe(true);
  });

  it("retries from the record a partial batch response names, and never again before it", async () => {
    const seen: number[][] = [];
    let failures = 1;
    const invoke = async (event: DynamoStreamEvent): Promise<StreamBatchResponse> => {
      seen.push(sequences(event));
      if (failures-- > 0) return { batchItemFailures: [{ itemIdentifier: "3" }] };
      return { batchItemFailures: [] };
    };
    const poller = new StreamPoller(invoke, recordingLogger(), { retryBaseMs: 1 });
    poller.add("presence", records(1, 5));
    await poller.idle();
    expect(seen).toEqual([
      [1, 2, 3, 4, 5],
      [3, 4, 5],
    ]);
  });

  it("retries a batch whose invocation throws, and drops it, logged, after the last retry", async () => {
    const logger = recordingLogger();
    let calls = 0;
    const poller = new StreamPoller(
      async () => {
        calls++;
        throw new Error("function failed");
      },
      logger,
      { retryAttempts: 2, retryBaseMs: 1 },
    );
    poller.add("history", records(1, 2));
    await poller.idle();
    expect(calls).toBe(3);
    expect(logger.lines.some((line) => line.level === "error" && line.message.includes("dropped"))).toBe(true);
  });
});
