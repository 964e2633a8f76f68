import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { BatchWriteCommand, DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { type BroadcastDeps, broadcast } from "../../lambda/core/broadcast.ts";
import { FAILURE_KINDS_MAX, FAILURE_SAMPLE_IDS, type FailureKind } from "../../lambda/core/post-failures.ts";
import { isRetryable } from "../../lambda/core/post-outcome.ts";
import { isGone, PostTimeoutError } from "../../lambda/core/poster.ts";
import { CONNECTIONS_TABLE, decodeData, goneError, NOW, recordingLogger, testChatDeps } from "../fixtures.ts";

const ddb = mockClient(DynamoDBDocumentClient);
const api = mockClient(ApiGatewayManagementApiClient);
afterEach(() => {
  ddb.reset();
  api.reset();
});

const member = (id: string) => ({ connectionId: id, username: `user-${id}` });
const threePages = () =>
  ddb
    .on(QueryCommand)
    .resolvesOnce({ Items: ["a", "b", "c"].map(member), LastEvaluatedKey: { connectionId: "c" } })
    .resolvesOnce({ Items: ["d", "e", "f"].map(member), LastEvaluatedKey: { connectionId: "f" } })
    .resolvesOnce({ Items: ["g", "h", "i"].map(member) });
const postedTo = () => api.commandCalls(PostToConnectionCommand).map((call) => call.args[0].input.ConnectionId);
const frame = { type: "message", message: "hi" };

describe("broadcast", () => {
  it("posts exactly once to every member over three pages of the index", async () => {
    threePages();
    api.on(PostToConnectionCommand).resolves({});
    const result = await broadcast(testChatDeps(), "support", frame, { concurrency: 4 });
    expect(result).toEqual({ delivered: 9, gone: 0, connecting: 0, failed: 0, notRemoved: 0 });
    expect(postedTo().sort()).toEqual(["a", "b", "c", "d", "e", "f", "g", "h", "i"]);
    for (const call of api.commandCalls(PostToConnectionCommand))
      expect(decodeData(call.args[0].input.Data)).toEqual(frame);
  });

  it("posts to the member pages it is handed, without reading the index again", async () => {
    api.on(PostToConnectionCommand).resolves({});
    async function* pages() {
      yield ["a", "b"].map(member);
      yield ["c"].map(member);
    }
    const result = await broadcast(testChatDeps(), "support", frame, { pages: pages() });
    expect(result.delivered).toBe(3);
    expect(postedTo().sort()).toEqual(["a", "b", "c"]);
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
  });

  it("never posts to the excluded connection", async () => {
    threePages();
    api.on(PostToConnectionCommand).resolves({});
    const result = await broadcast(testChatDeps(), "support", frame, { exclude: "e" });
    expect(result.delivered).toBe(8);
    expect(postedTo()).not.toContain("e");
  });

  it("removes the members that answer 410 Gone, and only them", async () => {
    threePages();
    ddb.on(BatchWriteCommand).resolves({});
    api.on(PostToConnectionCommand).resolves({});
    api.on(PostToConnectionCommand, { ConnectionId: "b" }).rejects(goneError());
    api.on(PostToConnectionCommand, { ConnectionId: "h" }).rejects(goneError());
    const result = await broadcast(testChatDeps(), "support", frame);
    expect(result).toEqual({ delivered: 7, gone: 2, connecting: 0, failed: 0, notRemoved: 0 });
    const deleted = ddb
      .commandCalls(BatchWriteCommand)
      .flatMap((call) => call.args[0].input.RequestItems?.[CONNECTIONS_TABLE] ?? [])
      .map((request) => request.DeleteRequest?.Key?.connectionId);
    expect(deleted.sort()).toEqual(["b", "h"]);
  });

  it("counts and logs a 500 from one post without stopping the others", async () => {
    threePages();
    api.on(PostToConnectionCommand).resolves({});
    const serverError = Object.assign(new Error("Internal"), {
      name: "InternalServerErrorException",
      $metadata: { httpStatusCode: 500 },
    });
    api.on(PostToConnectionCommand, { ConnectionId: "d" }).rejects(serverError);
    const deps = testChatDeps();
    const result = await broadcast(deps, "support", frame);
    expect(result).toEqual({ delivered: 8, gone: 0, connecting: 0, failed: 1, notRemoved: 0 });
    expect(ddb).not.toHaveReceivedCommand(BatchWriteCommand);
    expect(deps.logger.lines).toContainEqual(
      expect.objectContaining({ level: "warn", message: "posts to connections failed" }),
    );
  });

  it("reports gone members it could not remove instead of failing the broadcast", async () => {
    ddb.on(QueryCommand).resolves({ Items: [member("a")] });
    ddb.on(BatchWriteCommand).rejects(new Error("table unavailable"));
    api.on(PostToConnectionCommand).rejects(goneError());
    await expect(broadcast(testChatDeps(), "support", frame)).resolves.toEqual({
      delivered: 0,
      gone: 1,
      connecting: 0,
      failed: 0,
      notRemoved: 1,
    });
  });

  it("posts again in a later round to a member whose post was throttled, delivering once", async () => {
    ddb.on(QueryCommand).resolves({ Items: ["a", "b"].map(member) });
    const throttled = Object.assign(new Error("Rate exceeded"), {
      name: "LimitExceededException",
      $metadata: { httpStatusCode: 429 },
    });
    api.on(PostToConnectionCommand).resolves({});
    api.on(PostToConnectionCommand, { ConnectionId: "b" }).rejectsOnce(throttled).rejectsOnce(throttled).resolves({});
    const result = await broadcast(testChatDeps(), "support", frame);
    expect(result).toEqual({ delivered: 2, gone: 0, connecting: 0, failed: 0, notRemoved: 0 });
    expect(postedTo().filter((id) => id === "b")).toHaveLength(3);
  });

  it("does not post again after a refusal that cannot pass (403)", async () => {
    ddb.on(QueryCommand).resolves({ Items: [member("a")] });
    const forbidden = Object.assign(new Error("Forbidden"), {
      name: "ForbiddenException",
      $metadata: { httpStatusCode: 403 },
    });
    api.on(PostToConnectionCommand).rejects(forbidden);
    const result = await broadcast(testChatDeps(), "support", frame);
    expect(result.failed).toBe(1);
    expect(postedTo()).toEqual(["a"]);
  });

  it("posts again only when the post surely did not deliver: 429, 5xx, or never sent", () => {
    expect(isRetryable({ $metadata: { httpStatusCode: 429 } })).toBe(true);
    expect(isRetryable({ $metadata: { httpStatusCode: 503 } })).toBe(true);
    expect(isRetryable(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe(true);
    // No answer: maybe delivered, so never twice.
    expect(isRetryable(new Error("PostToConnection: no answer in 10000 ms"))).toBe(false);
    expect(isRetryable(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))).toBe(false);
    // The same reset on a reused keep-alive socket before any answer: the poster marks it never sent.
    expect(isRetryable(Object.assign(new Error("socket hang up"), { code: "ECONNRESET", notSent: true }))).toBe(true);
    expect(isRetryable({ $metadata: { httpStatusCode: 403 } })).toBe(false);
  });

  it("keeps a member that answers 410 while it may still be inside its $connect", async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        { ...member("new"), connectedAt: NOW - 5_000 },
        { ...member("old"), connectedAt: NOW - 31_000 },
      ],
    });
    ddb.on(BatchWriteCommand).resolves({});
    api.on(PostToConnectionCommand).rejects(goneError());
    const result = await broadcast(testChatDeps(), "support", frame);
    expect(result).toEqual({ delivered: 0, gone: 1, connecting: 1, failed: 0, notRemoved: 0 });
    const deleted = ddb
      .commandCalls(BatchWriteCommand)
      .flatMap((call) => call.args[0].input.RequestItems?.[CONNECTIONS_TABLE] ?? [])
      .map((request) => request.DeleteRequest?.Key?.connectionId);
    expect(deleted).toEqual(["old"]);
  });

  it("treats a bare 410 as gone, and a 429 as a failure", () => {
    expect(isGone({ name: "Unknown", $metadata: { httpStatusCode: 410 } })).toBe(true);
    expect(isGone({ name: "LimitExceededException", $metadata: { httpStatusCode: 429 } })).toBe(false);
    expect(isGone(undefined)).toBe(false);
  });
});

describe("broadcast failure logs", () => {
  const failingDeps = (count: number, errorFor: (i: number) => unknown, removeMany = async () => [] as string[]) => {
    const members = Array.from({ length: count }, (_, i) => ({ connectionId: `m${i}`, username: `u${i}` }));
    const logger = recordingLogger();
    const deps: BroadcastDeps = {
      connections: {
        memberPages: async function* () {
          yield members;
        },
        removeMany,
      },
      poster: {
        post: async (connectionId) => ({ status: "failed", error: errorFor(Number(connectionId.slice(1))) }),
      },
      logger,
      sleep: async () => {},
    };
    return { deps, logger };
  };
  const forbidden = () =>
    Object.assign(new Error("Forbidden"), { name: "ForbiddenException", $metadata: { httpStatusCode: 403 } });

  it("logs 1,000 failed posts as one line of counts by error, with at most five sample ids each", async () => {
    const { deps, logger } = failingDeps(1_000, (i) => (i % 5 === 0 ? new PostTimeoutError(25_000) : forbidden()));
    const result = await broadcast(deps, "support", frame);
    expect(result.failed).toBe(1_000);
    expect(logger.lines).toHaveLength(1);
    const [line] = logger.lines;
    expect(line).toMatchObject({ level: "warn", message: "posts to connections failed" });
    const details = line?.extra[0] as { channel: string; failed: number; errors: FailureKind[] };
    expect(details.channel).toBe("support");
    expect(details.failed).toBe(1_000);
    expect(details.errors.map(({ error, status, count }) => ({ error, status, count }))).toEqual([
      { error: "ForbiddenException", status: 403, count: 800 },
      { error: "PostTimeoutError", status: undefined, count: 200 },
    ]);
    for (const kind of details.errors) {
      expect(kind.connectionIds.length).toBe(FAILURE_SAMPLE_IDS);
      expect(new Set(kind.connectionIds).size).toBe(FAILURE_SAMPLE_IDS);
    }
    expect(JSON.stringify(line).length).toBeLessThan(2_000);
  });

  it("counts kinds beyond the bound as other, so the line stays bounded however varied the errors", async () => {
    const { deps, logger } = failingDeps(1_000, (i) =>
      Object.assign(new Error("odd"), { name: `OddError${i}`, $metadata: { httpStatusCode: 400 } }),
    );
    await broadcast(deps, "support", frame);
    expect(logger.lines).toHaveLength(1);
    const [line] = logger.lines;
    const errors = (line?.extra[0] as { errors: FailureKind[] } | undefined)?.errors ?? [];
    expect(errors).toHaveLength(FAILURE_KINDS_MAX + 1);
    expect(errors[0]).toMatchObject({ error: "other", count: 1_000 - FAILURE_KINDS_MAX });
    expect(errors.reduce((sum, kind) => sum + kind.count, 0)).toBe(1_000);
  });

  it("logs stale members it could not remove as a count and a few ids", async () => {
    const gone = Array.from({ length: 1_000 }, (_, i) => ({
      connectionId: `g${i}`,
      username: "Ghost",
      connectedAt: 0,
    }));
    const logger = recordingLogger();
    const result = await broadcast(
      {
        connections: {
          memberPages: async function* () {
            yield gone;
          },
          removeMany: async (ids) => [...ids],
        },
        poster: { post: async () => ({ status: "gone" }) },
        logger,
      },
      "support",
      frame,
    );
    expect(result).toMatchObject({ gone: 1_000, notRemoved: 1_000 });
    expect(logger.lines).toEqual([
      {
        level: "warn",
        message: "stale connections not removed",
        extra: [{ channel: "support", count: 1_000, connectionIds: ["g0", "g1", "g2", "g3", "g4"] }],
      },
    ]);
  });
});
