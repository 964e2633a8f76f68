import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { BatchWriteCommand, DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { limits } from "../../lambda/core/limits.ts";
import { fanOut, type SegmentJob } from "../../lambda/core/sharded-fanout.ts";
import { createBroadcastWorkerHandler, queuedSegment } from "../../lambda/handlers/broadcast-worker.ts";
import { batches, SegmentQueueError, sqsSegmentQueue } from "../../lambda/runtime/sqs-segment-queue.ts";
import { CONNECTIONS_TABLE, decodeData, goneError, NOW, recordingLogger, testChatDeps } from "../fixtures.ts";

const ddb = mockClient(DynamoDBDocumentClient);
const api = mockClient(ApiGatewayManagementApiClient);
const sqs = mockClient(SQSClient);
afterEach(() => {
  ddb.reset();
  api.reset();
  sqs.reset();
});

const members = (count: number, from = 0) =>
  Array.from({ length: count }, (_, i) => ({
    connectionId: `c${from + i}`,
    username: `u${from + i}`,
    connectedAt: NOW - 60_000,
  }));

/** The channel index in pages of 1,000, as DynamoDB would answer. */
function channelOf(size: number) {
  const all = members(size);
  const pages = [];
  for (let start = 0; start < size; start += 1_000) pages.push(all.slice(start, start + 1_000));
  let query = ddb.on(QueryCommand);
  pages.forEach((page, i) => {
    query = query.resolvesOnce({
      Items: page,
      LastEvaluatedKey: i < pages.length - 1 ? { connectionId: page.at(-1)?.connectionId } : undefined,
    });
  });
  return all;
}

function recordingQueue() {
  const jobs: SegmentJob[] = [];
  const calls: number[] = [];
  return {
    jobs,
    calls,
    enqueue: async (batch: SegmentJob[]) => {
      calls.push(batch.length);
      jobs.push(...batch);
    },
  };
}

describe("sharded fan-out", () => {
  it("posts to a channel at the threshold itself and queues nothing", async () => {
    channelOf(limits.shardThreshold);
    api.on(PostToConnectionCommand).resolves({});
    const queue = recordingQueue();
    const result = await fanOut({ ...testChatDeps(), segmentQueue: queue }, "big", { type: "pong", timestamp: 1 });
    expect(result).toEqual({ delivered: limits.shardThreshold, gone: 0, connecting: 0, failed: 0, notRemoved: 0 });
    expect(queue.jobs).toEqual([]);
  });

  it("splits a larger channel into segments for the workers, every member once, the excluded one left out", async () => {
    const all = channelOf(12_345);
    const queue = recordingQueue();
    const frame = { type: "system", message: "Lucy connected" };
    const result = await fanOut({ ...testChatDeps(), segmentQueue: queue }, "big", frame, { exclude: "c7" });
    expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
    const queued = queue.jobs.flatMap((job) => job.members.map((member) => member.connectionId));
    expect(queued).toHaveLength(12_344);
    expect(new Set(queued)).toEqual(new Set(all.map((member) => member.connectionId).filter((id) => id !== "c7")));
    expect(queue.jobs.every((job) => job.members.length <= limits.segmentSize && job.channel === "big")).toBe(true);
    expect(JSON.parse(queue.jobs[0]?.frame ?? "")).toEqual(frame);
    expect(result).toEqual({
      delivered: 0,
      gone: 0,
      connecting: 0,
      failed: 0,
      notRemoved: 0,
      queued: 12_344,
      segments: 25,
    });
    // Handed over in groups while the index is still being read, not all at the end.
    expect(queue.calls).toEqual([10, 10, 5]);
  });
});

describe("broadcast worker", () => {
  const job = (ids: string[]): SegmentJob => ({
    channel: "big",
    frame: JSON.stringify({ type: "pong", timestamp: 1 }),
    members: ids.map((connectionId) => ({ connectionId, username: connectionId, connectedAt: 0 })),
  });
  const worker = (logger = recordingLogger()) => {
    const handler = createBroadcastWorkerHandler({ ...testChatDeps(), logger });
    return { handler, logger };
  };

  it("delivers a segment through its own poster, removing the gone members", async () => {
    api.on(PostToConnectionCommand).resolves({});
    api.on(PostToConnectionCommand, { ConnectionId: "b" }).rejects(goneError());
    ddb.on(BatchWriteCommand).resolves({});
    const { handler } = worker();
    const body = queuedSegment(job(["a", "b", "c"]));
    await expect(handler({ Records: [{ messageId: "m1", body }] })).resolves.toEqual({ batchItemFailures: [] });
    const posted = api.commandCalls(PostToConnectionCommand).map((call) => call.args[0].input);
    expect(posted.map((input) => input.ConnectionId).sort()).toEqual(["a", "b", "c"]);
    expect(decodeData(posted[0]?.Data)).toEqual({ type: "pong", timestamp: 1 });
    expect(ddb).toHaveReceivedCommandWith(BatchWriteCommand, {
      RequestItems: { [CONNECTIONS_TABLE]: [{ DeleteRequest: { Key: { connectionId: "b" } } }] },
    });
  });

  it("drops a malformed record with a log line, and does not redeliver for a stale removal that failed", async () => {
    api.on(PostToConnectionCommand).rejects(goneError());
    ddb.on(BatchWriteCommand).rejects(new Error("DynamoDB unavailable"));
    const { handler, logger } = worker();
    const good = queuedSegment(job(["a"]));
    const result = await handler({
      Records: [
        { messageId: "bad", body: '{"channel":5}' },
        { messageId: "ok", body: good },
      ],
    });
    // Stale removal failing is reported in the result, not thrown: nothing to redeliver.
    expect(result).toEqual({ batchItemFailures: [] });
    expect(logger.lines).toContainEqual(
      expect.objectContaining({ level: "error", message: "malformed segment dropped" }),
    );
  });

  it("reports a record for redelivery when its delivery throws", async () => {
    const chat = testChatDeps();
    const handler = createBroadcastWorkerHandler({
      ...chat,
      logger: recordingLogger(),
      poster: {
        post: async () => {
          throw new Error("poster broken");
        },
      },
    });
    const body = queuedSegment(job(["a"]));
    await expect(handler({ Records: [{ messageId: "m1", body }] })).resolves.toEqual({
      batchItemFailures: [{ itemIdentifier: "m1" }],
    });
  });
});

describe("SQS segment queue", () => {
  const bigJob = (size: number): SegmentJob => ({ channel: "c", frame: "x".repeat(size), members: [] });

  it("groups messages within SQS's limits of 10 messages and 256 KiB a batch", () => {
    expect(batches(Array.from({ length: 23 }, () => "m")).map((group) => group.length)).toEqual([10, 10, 3]);
    const large = Array.from({ length: 5 }, () => "y".repeat(100 * 1024));
    expect(batches(large).map((group) => group.length)).toEqual([2, 2, 1]);
  });

  it("sends the segments, without any endpoint, and sends failed entries again", async () => {
    sqs
      .on(SendMessageBatchCommand)
      .resolvesOnce({ Successful: [], Failed: [{ Id: "1", SenderFault: false, Code: "InternalError" }] })
      .resolves({ Successful: [], Failed: [] });
    const queue = sqsSegmentQueue(new SQSClient({ region: "eu-west-1" }), "https://sqs/queue", async () => {});
    await queue.enqueue([bigJob(1), bigJob(2)]);
    const calls = sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input.Entries ?? []);
    expect(calls.map((entries) => entries.length)).toEqual([2, 1]);
    const body = JSON.parse(calls[1]?.[0]?.MessageBody ?? "") as Record<string, unknown>;
    expect(body).toEqual({ channel: "c", frame: "xx", members: [] });
  });

  it("gives up with a named error after the bounded attempts", async () => {
    sqs
      .on(SendMessageBatchCommand)
      .resolves({ Successful: [], Failed: [{ Id: "0", SenderFault: false, Code: "InternalError" }] });
    const queue = sqsSegmentQueue(new SQSClient({ region: "eu-west-1" }), "https://sqs/queue", async () => {});
    await expect(queue.enqueue([bigJob(1)])).rejects.toBeInstanceOf(SegmentQueueError);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(limits.batchWriteAttempts);
  });

  it("fails at once, naming SQS's code, on an entry refused as the sender's fault", async () => {
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [],
      Failed: [{ Id: "0", SenderFault: true, Code: "InvalidMessageContents", Message: "outside the allowed set" }],
    });
    const queue = sqsSegmentQueue(new SQSClient({ region: "eu-west-1" }), "https://sqs/queue", async () => {});
    await expect(queue.enqueue([bigJob(1)])).rejects.toThrow(/InvalidMessageContents/);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
  });
});
