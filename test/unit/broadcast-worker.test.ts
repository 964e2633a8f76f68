import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { limits } from "../../lambda/core/limits.ts";
import type { PostOptions, PostOutcome } from "../../lambda/core/poster.ts";
import type { SegmentJob } from "../../lambda/core/sharded-fanout.ts";
import { CLEANUP_RESERVE_MS, POST_MIN_WINDOW_MS, WORKER_RESERVE_MS } from "../../lambda/core/time-budget.ts";
import {
  type BroadcastWorkerDeps,
  createBroadcastWorkerHandler,
  queuedSegment,
} from "../../lambda/handlers/broadcast-worker.ts";
import { broadcastWorkerDepsFromEnv } from "../../lambda/runtime/deps-from-env.ts";
import { ConfigurationError } from "../../lambda/runtime/environment.ts";
import { InProcessSegmentQueue, lambdaContext } from "../../local/in-process-segment-queue.ts";
import { recordingLogger } from "../fixtures.ts";

/** The worker function's timeout, as deployed. */
const FUNCTION_TIMEOUT_MS = 60_000;
/** What each post costs on the fake clock. */
const POST_MS = 400;

/** A fake clock, a poster that spends time on it, and Lambda contexts read from it. */
function fakeTime() {
  let now = 0;
  const deliveries = new Map<string, number>();
  const posts: { connectionId: string; startedAt: number; timeoutMs: number | undefined; deadline: number }[] = [];
  let deadline = 0;
  const poster = {
    post: async (connectionId: string, _data: Uint8Array, options?: PostOptions): Promise<PostOutcome> => {
      posts.push({ connectionId, startedAt: now, timeoutMs: options?.timeoutMs, deadline });
      await Promise.resolve();
      now += POST_MS;
      deliveries.set(connectionId, (deliveries.get(connectionId) ?? 0) + 1);
      return { status: "delivered" };
    },
  };
  /** The context of an invocation starting now, with `timeoutMs` in all. */
  const context = (timeoutMs = FUNCTION_TIMEOUT_MS) => {
    const start = now;
    deadline = start + timeoutMs;
    return { getRemainingTimeInMillis: () => start + timeoutMs - now };
  };
  return {
    poster,
    deliveries,
    posts,
    context,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const segment = (count: number): SegmentJob => ({
  channel: "huge",
  frame: JSON.stringify({ type: "message", id: "m1", from: "Ann", message: "hi", channel: "huge", timestamp: 1 }),
  members: Array.from({ length: count }, (_, i) => ({ connectionId: `c${i}`, username: `u${i}`, connectedAt: 0 })),
});

const noStore = { memberPages: async function* () {}, removeMany: async () => [] };

describe("broadcast worker within its invocation's time", () => {
  it("hands the members it had no time for to a follow-up segment: each member gets the frame exactly once", async () => {
    const time = fakeTime();
    const logger = recordingLogger();
    const failures: number[] = [];
    let queue: InProcessSegmentQueue | undefined;
    const deps: BroadcastWorkerDeps = {
      connections: noStore,
      poster: time.poster,
      logger,
      segmentQueue: { enqueue: (jobs) => (queue as InProcessSegmentQueue).queue.enqueue(jobs) },
    };
    const handler = createBroadcastWorkerHandler(deps);
    queue = new InProcessSegmentQueue(
      async (event) => {
        const response = await handler(event, time.context());
        failures.push(response.batchItemFailures.length);
        return response;
      },
      { logger },
    );

    // 500 members at 400 ms a post (on one clock), 256 at once: far more than one 60-second invocation can post.
    await queue.queue.enqueue([segment(500)]);
    await queue.idle();

    // The first invocation ran out of time part way, and a follow-up segment took the rest; SQS redelivered nothing.
    const results = logger.lines
      .filter((line) => line.message === "segment delivered")
      .map((line) => line.extra[0] as { delivered: number; deferred?: number });
    expect(results).toHaveLength(2);
    const [first, second] = results as [(typeof results)[0], (typeof results)[0]];
    expect(first.delivered).toBeGreaterThan(0);
    expect(first.deferred).toBe(500 - first.delivered);
    expect(second).toMatchObject({ delivered: first.deferred });
    expect(second.deferred).toBeUndefined();
    expect(failures).toEqual([0, 0]);
    expect(time.deliveries.size).toBe(500);
    expect([...time.deliveries.values()].every((count) => count === 1)).toBe(true);
    expect(queue.deadLetters).toEqual([]);
    // Every post had a timeout, ending before the reserve kept at the end of its invocation.
    for (const post of time.posts) {
      expect(post.timeoutMs).toBeGreaterThanOrEqual(POST_MIN_WINDOW_MS);
      expect(post.startedAt + (post.timeoutMs ?? Number.POSITIVE_INFINITY)).toBeLessThanOrEqual(
        post.deadline - WORKER_RESERVE_MS,
      );
    }
  });

  it("returns a record for SQS to deliver again when it could post nothing of it, and posts nothing", async () => {
    const time = fakeTime();
    const enqueued: SegmentJob[] = [];
    const handler = createBroadcastWorkerHandler({
      connections: noStore,
      poster: time.poster,
      logger: recordingLogger(),
      segmentQueue: { enqueue: async (jobs) => void enqueued.push(...jobs) },
    });
    const context = time.context();
    time.advance(FUNCTION_TIMEOUT_MS - WORKER_RESERVE_MS - POST_MIN_WINDOW_MS + 1);
    const response = await handler({ Records: [{ messageId: "late", body: queuedSegment(segment(3)) }] }, context);
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "late" }] });
    expect(time.posts).toEqual([]);
    expect(enqueued).toEqual([]);
  });

  it("returns the record when the rest cannot be queued, logging that some members may get it twice", async () => {
    const time = fakeTime();
    const logger = recordingLogger();
    const handler = createBroadcastWorkerHandler({
      connections: noStore,
      poster: time.poster,
      logger,
      segmentQueue: {
        enqueue: async () => {
          throw new Error("SQS unavailable");
        },
      },
    });
    const response = await handler(
      { Records: [{ messageId: "m1", body: queuedSegment(segment(500)) }] },
      time.context(),
    );
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "m1" }] });
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: "error",
        message: "segment remainder not queued: SQS delivers the segment again, some members twice",
      }),
    );
  });

  it("hands on a throttled member when no time is left to post again, instead of counting it failed", async () => {
    const time = fakeTime();
    const throttled = Object.assign(new Error("Rate exceeded"), {
      name: "LimitExceededException",
      $metadata: { httpStatusCode: 429 },
    });
    let refusals = 1;
    const poster = {
      post: async (connectionId: string, data: Uint8Array, options?: PostOptions): Promise<PostOutcome> => {
        if (connectionId === "c1" && refusals-- > 0) return { status: "failed", error: throttled };
        return time.poster.post(connectionId, data, options);
      },
    };
    const enqueued: SegmentJob[] = [];
    const logger = recordingLogger();
    const handler = createBroadcastWorkerHandler({
      connections: noStore,
      poster,
      logger,
      segmentQueue: { enqueue: async (jobs) => void enqueued.push(...jobs) },
    });
    // Time for one round of posts, not for the pause and the window of another.
    const tight = time.context(WORKER_RESERVE_MS + POST_MIN_WINDOW_MS + 100);
    const first = await handler({ Records: [{ messageId: "m1", body: queuedSegment(segment(3)) }] }, tight);
    expect(first).toEqual({ batchItemFailures: [] });
    expect(enqueued.map((job) => job.members.map((member) => member.connectionId))).toEqual([["c1"]]);
    expect(logger.lines.find((line) => line.message === "segment delivered")?.extra[0]).toMatchObject({
      delivered: 2,
      failed: 0,
      deferred: 1,
    });
    const followUp = await handler(
      { Records: [{ messageId: "m2", body: queuedSegment(enqueued[0] as SegmentJob) }] },
      time.context(),
    );
    expect(followUp).toEqual({ batchItemFailures: [] });
    expect([...time.deliveries.entries()].sort()).toEqual([
      ["c0", 1],
      ["c1", 1],
      ["c2", 1],
    ]);
  });

  it("posts every member without a context (the local stack), with no timeout beyond the poster's own", async () => {
    const time = fakeTime();
    const handler = createBroadcastWorkerHandler({
      connections: noStore,
      poster: time.poster,
      logger: recordingLogger(),
    });
    const response = await handler({ Records: [{ messageId: "m1", body: queuedSegment(segment(500)) }] });
    expect(response).toEqual({ batchItemFailures: [] });
    expect(time.deliveries.size).toBe(500);
    expect(time.posts.every((post) => post.timeoutMs === undefined)).toBe(true);
  });
});

describe("broadcast worker and presence", () => {
  it("makes the members it finds gone (410) leave the channel's presence once removed, and posts no notice", async () => {
    const posts: string[] = [];
    const departed: [string, string, string][] = [];
    const handler = createBroadcastWorkerHandler({
      // c2 could not be removed: it stays a member, so it stays present.
      connections: { ...noStore, removeMany: async (ids: string[]) => ids.filter((id) => id === "c2") },
      poster: {
        post: async (connectionId: string): Promise<PostOutcome> => {
          posts.push(connectionId);
          return connectionId === "c0" ? { status: "delivered" } : { status: "gone" };
        },
      },
      presence: {
        depart: async (channel, user, connectionId) => {
          departed.push([channel, user, connectionId]);
          return { last: true, count: 0 };
        },
      },
      logger: recordingLogger(),
    });
    const response = await handler({ Records: [{ messageId: "m1", body: queuedSegment(segment(3)) }] });
    expect(response).toEqual({ batchItemFailures: [] });
    expect(departed).toEqual([["huge", "u1", "c1"]]);
    expect(posts.sort()).toEqual(["c0", "c1", "c2"]);
  });

  it("logs a failed departure and still delivers the segment", async () => {
    const logger = recordingLogger();
    const handler = createBroadcastWorkerHandler({
      connections: noStore,
      poster: { post: async (): Promise<PostOutcome> => ({ status: "gone" }) },
      presence: { depart: async () => Promise.reject(new Error("throttled")) },
      logger,
    });
    const response = await handler({ Records: [{ messageId: "m1", body: queuedSegment(segment(2)) }] });
    expect(response).toEqual({ batchItemFailures: [] });
    expect(logger.lines).toContainEqual(
      expect.objectContaining({ level: "warn", message: "presence of stale connections not updated" }),
    );
  });
});

describe("broadcast worker's endpoint", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  });
  /** A management API stand-in that records the connection ids posted to it. */
  const managementApi = async () => {
    const posted: string[] = [];
    const server = createServer((request, response) => {
      posted.push(decodeURIComponent((request.url ?? "").split("/@connections/")[1] ?? ""));
      request.resume().on("end", () => response.writeHead(200, { "content-length": 0 }).end());
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { posted, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod` };
  };
  const env = (endpoint?: string) => ({
    CONNECTIONS_TABLE: "connections",
    PRESENCE_TABLE: "presence",
    ...(endpoint ? { CHAT_MANAGEMENT_ENDPOINT: endpoint } : {}),
  });
  const aws = { region: "eu-west-1", credentials: { accessKeyId: "x", secretAccessKey: "y" } };

  it("posts to the endpoint of its environment, whatever endpoint an old or forged message names", async () => {
    const configured = await managementApi();
    const elsewhere = await managementApi();
    const handler = createBroadcastWorkerHandler(
      broadcastWorkerDepsFromEnv(env(configured.endpoint), { aws, logger: recordingLogger(), metrics: false }),
    );
    const forged = JSON.stringify({ ...segment(2), endpoint: elsewhere.endpoint });
    const response = await handler({ Records: [{ messageId: "old", body: forged }] });
    expect(response).toEqual({ batchItemFailures: [] });
    expect(configured.posted.sort()).toEqual(["c0", "c1"]);
    expect(elsewhere.posted).toEqual([]);
  });

  it("refuses to start without CHAT_MANAGEMENT_ENDPOINT, naming it", () => {
    expect(() => broadcastWorkerDepsFromEnv(env(), { aws, logger: recordingLogger(), metrics: false })).toThrow(
      ConfigurationError,
    );
    expect(() => broadcastWorkerDepsFromEnv(env(), { aws, logger: recordingLogger(), metrics: false })).toThrow(
      /CHAT_MANAGEMENT_ENDPOINT/,
    );
  });

  it("writes segments without an endpoint", () => {
    expect(Object.keys(JSON.parse(queuedSegment(segment(1))) as object).sort()).toEqual([
      "channel",
      "frame",
      "members",
    ]);
  });
});

/**
 * A clock that posts, removals and departures spend time on, each as soon as it starts (so concurrent calls add up, as
 * the worst case), and an invocation's context read from it.
 */
function slowCleanup(costs: { post: number; removeBatch: number; depart: number }) {
  let now = 0;
  const order: string[] = [];
  const removed: string[] = [];
  const departed: string[] = [];
  const enqueued: SegmentJob[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const context = { getRemainingTimeInMillis: () => FUNCTION_TIMEOUT_MS - now };
  const logger = recordingLogger();
  const deps: BroadcastWorkerDeps = {
    // Every member answers 410 Gone: all of them are stale.
    poster: {
      post: async (): Promise<PostOutcome> => {
        now += costs.post;
        await Promise.resolve();
        return { status: "gone" };
      },
    },
    connections: {
      ...noStore,
      removeMany: async (ids: string[]) => {
        now += costs.removeBatch * Math.ceil(ids.length / limits.batchWriteSize);
        order.push("remove");
        removed.push(...ids);
        return [];
      },
    },
    presence: {
      depart: async (_channel, _user, connectionId) => {
        now += costs.depart;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
        order.push("depart");
        departed.push(connectionId);
        return { last: true, count: 0 };
      },
    },
    segmentQueue: {
      enqueue: async (jobs) => {
        order.push(`enqueue at ${context.getRemainingTimeInMillis()} ms left`);
        enqueued.push(...jobs);
      },
    },
    logger,
  };
  return { deps, context, order, removed, departed, enqueued, logger, maxInFlight: () => maxInFlight };
}

const delivered = (logger: ReturnType<typeof recordingLogger>) =>
  logger.lines.find((line) => line.message === "segment delivered")?.extra[0] as Record<string, number>;

describe("broadcast worker's cleanup within its invocation's time", () => {
  it("queues the remainder before removing stale members, departs only while time is left, and ends before the deadline", async () => {
    const time = slowCleanup({ post: 200, removeBatch: 300, depart: 150 });
    const response = await createBroadcastWorkerHandler(time.deps)(
      { Records: [{ messageId: "m1", body: queuedSegment(segment(500)) }] },
      time.context,
    );
    expect(response).toEqual({ batchItemFailures: [] });
    // The remainder went first, with the reserve still ahead of it.
    expect(time.order[0]).toMatch(/^enqueue at \d+ ms left$/);
    expect(Number(time.order[0]?.match(/\d+/)?.[0])).toBeGreaterThan(CLEANUP_RESERVE_MS);
    expect(time.order.slice(1).every((step) => step === "remove" || step === "depart")).toBe(true);
    const posted = 500 - (time.enqueued[0]?.members.length ?? 0);
    expect(time.enqueued).toHaveLength(1);
    expect(time.removed).toHaveLength(posted);
    // Departures stopped when the time did: the rest are logged as a count, and the invocation never overran.
    expect(time.departed.length).toBeGreaterThan(0);
    expect(time.departed.length).toBeLessThan(posted);
    expect(time.logger.lines).toContainEqual(
      expect.objectContaining({
        message: "presence of stale connections left: no time to update it",
        extra: [{ channel: "huge", count: posted - time.departed.length }],
      }),
    );
    expect(time.context.getRemainingTimeInMillis()).toBeGreaterThan(0);
    expect(delivered(time.logger)).toMatchObject({ gone: posted, notRemoved: 0, deferred: 500 - posted });
  });

  it("leaves the stale members it has no time to remove (they answer 410 again next time), logged as a count", async () => {
    const time = slowCleanup({ post: 200, removeBatch: 1_000, depart: 150 });
    const response = await createBroadcastWorkerHandler(time.deps)(
      { Records: [{ messageId: "m1", body: queuedSegment(segment(500)) }] },
      time.context,
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(time.order[0]).toMatch(/^enqueue/);
    const posted = 500 - (time.enqueued[0]?.members.length ?? 0);
    expect(time.removed.length).toBeGreaterThan(0);
    expect(time.removed.length).toBeLessThan(posted);
    expect(time.departed).toEqual([]);
    expect(delivered(time.logger)).toMatchObject({ gone: posted, notRemoved: posted - time.removed.length });
    expect(time.logger.lines).toContainEqual(
      expect.objectContaining({
        message: "stale connections left for next time: no time to remove them",
        extra: [{ channel: "huge", count: posted - time.removed.length }],
      }),
    );
    expect(time.context.getRemainingTimeInMillis()).toBeGreaterThan(0);
  });

  it("makes the departures of members found gone a few at once, not one after another", async () => {
    const time = slowCleanup({ post: 0, removeBatch: 0, depart: 0 });
    const response = await createBroadcastWorkerHandler(time.deps)({
      Records: [{ messageId: "m1", body: queuedSegment(segment(100)) }],
    });
    expect(response).toEqual({ batchItemFailures: [] });
    expect(time.departed.sort()).toEqual(time.removed.sort());
    expect(time.departed).toHaveLength(100);
    expect(time.maxInFlight()).toBe(limits.departConcurrency);
  });
});

describe("broadcast worker's hops", () => {
  /** A poster that spends 400 ms of the clock as each post starts, and an invocation with time for one post. */
  const onePostEach = () => {
    let now = 0;
    const posted: string[] = [];
    const poster = {
      post: async (connectionId: string): Promise<PostOutcome> => {
        now += 400;
        posted.push(connectionId);
        return { status: "delivered" };
      },
    };
    return { poster, posted, now: () => now, timeoutMs: WORKER_RESERVE_MS + POST_MIN_WINDOW_MS + 100 };
  };

  it("counts each queued remainder as a hop, reading old messages without one as 0", async () => {
    const time = onePostEach();
    const enqueued: SegmentJob[] = [];
    const handler = createBroadcastWorkerHandler({
      connections: noStore,
      poster: time.poster,
      logger: recordingLogger(),
      segmentQueue: { enqueue: async (jobs) => void enqueued.push(...jobs) },
    });
    const context = () => lambdaContext(time.timeoutMs, time.now);
    const old = JSON.stringify(segment(3));
    expect(await handler({ Records: [{ messageId: "old", body: old }] }, context())).toEqual({ batchItemFailures: [] });
    const hopped = queuedSegment({ ...segment(3), hops: 2 });
    expect(await handler({ Records: [{ messageId: "m2", body: hopped }] }, context())).toEqual({
      batchItemFailures: [],
    });
    expect(enqueued.map((job) => [job.hops, job.members.length])).toEqual([
      [1, 2],
      [3, 2],
    ]);
  });

  it("returns a segment out of time after the last hop to SQS instead of queueing it again", async () => {
    const time = onePostEach();
    const enqueued: SegmentJob[] = [];
    const logger = recordingLogger();
    const handler = createBroadcastWorkerHandler({
      connections: noStore,
      poster: time.poster,
      logger,
      segmentQueue: { enqueue: async (jobs) => void enqueued.push(...jobs) },
    });
    const body = queuedSegment({ ...segment(3), hops: limits.segmentMaxHops });
    const response = await handler({ Records: [{ messageId: "last", body }] }, lambdaContext(time.timeoutMs, time.now));
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "last" }] });
    expect(enqueued).toEqual([]);
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: "error",
        message: "segment out of time too often: SQS delivers it again, some members twice",
      }),
    );
  });

  it("drops a segment whose hops are not a count within the limit, as malformed", async () => {
    const time = onePostEach();
    const logger = recordingLogger();
    const handler = createBroadcastWorkerHandler({ connections: noStore, poster: time.poster, logger });
    for (const hops of [-1, 1.5, "2", limits.segmentMaxHops + 1]) {
      const body = JSON.stringify({ ...segment(1), hops });
      expect(await handler({ Records: [{ messageId: String(hops), body }] })).toEqual({ batchItemFailures: [] });
    }
    expect(time.posted).toEqual([]);
    expect(logger.lines.filter((line) => line.message === "malformed segment dropped")).toHaveLength(4);
  });

  it("sends a segment that never fits to the dead letters after its hops and receives, instead of circling", async () => {
    const time = onePostEach();
    const logger = recordingLogger();
    let queue: InProcessSegmentQueue | undefined;
    const handler = createBroadcastWorkerHandler({
      connections: noStore,
      poster: time.poster,
      logger,
      segmentQueue: { enqueue: (jobs) => (queue as InProcessSegmentQueue).queue.enqueue(jobs) },
    });
    let invocations = 0;
    queue = new InProcessSegmentQueue(
      (event, context) => {
        invocations++;
        return handler(event, context);
      },
      { logger, workerTimeoutMs: time.timeoutMs, now: time.now },
    );
    await queue.queue.enqueue([segment(20)]);
    await queue.idle();
    // One post per invocation: the first and each of its hops post one member and hand on the rest; the last hop is
    // returned to SQS, which delivers it up to its receive count and then dead-letters it.
    expect(invocations).toBe(limits.segmentMaxHops + limits.segmentMaxReceives);
    expect(queue.deadLetters).toHaveLength(1);
    const dead = JSON.parse(queue.deadLetters[0] ?? "") as SegmentJob;
    expect(dead.hops).toBe(limits.segmentMaxHops);
    expect(dead.members).toHaveLength(20 - limits.segmentMaxHops);
  });
});
