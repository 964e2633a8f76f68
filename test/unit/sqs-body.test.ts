import fc from "fast-check";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import type { SegmentJob } from "../../lambda/core/sharded-fanout.ts";
import { segmentJobSchema } from "../../lambda/core/sharded-fanout.ts";
import { firstInvalidSqsCharacter, isValidSqsBody, sqsSafeJson } from "../../lambda/core/sqs-body.ts";
import { queuedSegment, type SqsEvent } from "../../lambda/handlers/broadcast-worker.ts";
import { InProcessSegmentQueue } from "../../local/in-process-segment-queue.ts";
import { recordingLogger } from "../fixtures.ts";

/** Any UTF-16 unit sequence: every code point, lone surrogates, and the characters SQS refuses, often. */
const anyChar = fc.oneof(
  fc.constantFrom("\uFFFE", "\uFFFF", "\uD800", "\uDBFF", "\uDC00", "\uDFFF", "\u0000", "\u0008", "\u000B", "\u001F"),
  fc.integer({ min: 0, max: 0x10ffff }).map((cp) => String.fromCodePoint(cp)),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)),
);
const anyString = fc.string({ unit: anyChar, maxLength: 200 });

/** A chat message frame as the server builds it, carrying `message`. */
const messageFrame = (message: string) => ({
  type: "message",
  id: "01JDMSG",
  from: "Lucy",
  message,
  channel: "support",
  timestamp: 1_764_082_800_123,
});

const job = (message: string): SegmentJob => ({
  channel: "support",
  frame: JSON.stringify(messageFrame(message)),
  members: [{ connectionId: "AbCdEfGh0=", username: "Bob", connectedAt: 1 }],
});

describe("SQS's character set", () => {
  it("accepts exactly #x9 #xA #xD, #x20–#xD7FF, #xE000–#xFFFD and #x10000–#x10FFFF", () => {
    for (const ok of [
      "\t",
      "\n",
      "\r",
      " ",
      "a",
      "\uD7FF",
      "\uE000",
      "\uFFFD",
      "\u{10000}",
      "\u{1F600}",
      "\u{10FFFF}",
    ]) {
      expect(isValidSqsBody(`x${ok}y`), JSON.stringify(ok)).toBe(true);
    }
    for (const bad of ["\u0000", "\u0008", "\u000B", "\u000C", "\u001F", "\uD800", "\uDFFF", "\uFFFE", "\uFFFF"]) {
      expect(isValidSqsBody(`x${bad}y`), JSON.stringify(bad)).toBe(false);
      expect(firstInvalidSqsCharacter(`x${bad}y`)).toBe(1);
    }
    // A low surrogate before a high one is two lone surrogates, not a pair.
    expect(isValidSqsBody("\uDC00\uD800")).toBe(false);
  });

  it("writes any value as JSON SQS accepts, which parses back to the same value", () => {
    fc.assert(
      fc.property(anyString, (text) => {
        const json = sqsSafeJson({ text, nested: [text] });
        expect(isValidSqsBody(json)).toBe(true);
        expect(JSON.parse(json)).toEqual({ text, nested: [text] });
      }),
      { numRuns: 500 },
    );
  });

  it("escapes U+FFFE and U+FFFF, which JSON.stringify leaves as they are", () => {
    expect(JSON.stringify("\uFFFE\uFFFF")).toBe('"\uFFFE\uFFFF"');
    expect(sqsSafeJson("\uFFFE\uFFFF")).toBe('"\\ufffe\\uffff"');
  });
});

describe("segment bodies", () => {
  it("pass SQS's check for any chat message, and the worker reads back the same frame", () => {
    fc.assert(
      fc.property(anyString, (message) => {
        const body = queuedSegment(job(message));
        expect(isValidSqsBody(body)).toBe(true);
        const parsed = v.parse(segmentJobSchema, JSON.parse(body));
        expect(parsed.frame).toBe(job(message).frame);
        expect(JSON.parse(parsed.frame)).toEqual(messageFrame(message));
      }),
      { numRuns: 500 },
    );
  });
});

describe("the local segment queue, as SQS", () => {
  const queueWith = () => {
    const received: string[] = [];
    const queue = new InProcessSegmentQueue(
      async (event: SqsEvent) => {
        received.push(...event.Records.map((record) => record.body));
        return { batchItemFailures: [] };
      },
      { logger: recordingLogger() },
    );
    return { queue, received };
  };

  it("fails each batch entry with a character outside SQS's set as InvalidMessageContents, and takes the others", async () => {
    const { queue, received } = queueWith();
    const result = queue.sendMessageBatch([
      { Id: "a", MessageBody: '{"m":"fine"}' },
      { Id: "b", MessageBody: '{"m":"\uFFFF"}' },
      { Id: "c", MessageBody: '{"m":"\uD800"}' },
      { Id: "d", MessageBody: '{"m":"\u0001"}' },
    ]);
    expect(result.Successful?.map((entry) => entry.Id)).toEqual(["a"]);
    expect(result.Failed?.map(({ Id, Code, SenderFault }) => ({ Id, Code, SenderFault }))).toEqual([
      { Id: "b", Code: "InvalidMessageContents", SenderFault: true },
      { Id: "c", Code: "InvalidMessageContents", SenderFault: true },
      { Id: "d", Code: "InvalidMessageContents", SenderFault: true },
    ]);
    await queue.idle();
    expect(received).toEqual(['{"m":"fine"}']);
  });

  it("refuses a single message with SQS's named error", () => {
    const { queue } = queueWith();
    expect(() => queue.sendMessage("\uFFFE")).toThrow(expect.objectContaining({ name: "InvalidMessageContents" }));
    expect(() =>
      queue.sendMessageBatch(Array.from({ length: 11 }, (_, i) => ({ Id: `${i}`, MessageBody: "x" }))),
    ).toThrow(expect.objectContaining({ name: "TooManyEntriesInBatchRequest" }));
  });

  it("refuses a segment encoded as segments were before (U+FFFF raw), and takes it encoded safely", async () => {
    const { queue, received } = queueWith();
    // A job whose frame text holds U+FFFF raw, encoded the naive way, as segments were before.
    const naive = JSON.stringify(job("\uFFFF"));
    const result = queue.sendMessageBatch([{ Id: "0", MessageBody: naive }]);
    expect(result.Failed?.[0]?.Code).toBe("InvalidMessageContents");
    // The segment queue's own path encodes safely, so the same job goes through.
    await expect(queue.queue.enqueue([job("\uFFFF\uFFFE\uD800")])).resolves.toBeUndefined();
    await queue.idle();
    expect(received).toHaveLength(1);
  });

  it("delivers any chat message's segment, the worker reading back the same frame", async () => {
    const { queue, received } = queueWith();
    await fc.assert(
      fc.asyncProperty(anyString, async (message) => {
        received.length = 0;
        await queue.queue.enqueue([job(message)]);
        await queue.idle();
        expect(received).toHaveLength(1);
        expect(JSON.parse(v.parse(segmentJobSchema, JSON.parse(received[0] ?? "")).frame)).toEqual(
          messageFrame(message),
        );
      }),
      { numRuns: 200 },
    );
  });
});
