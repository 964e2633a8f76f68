import type { Member } from "../lambda/core/connection-store.ts";
import { limits } from "../lambda/core/limits.ts";
import { fanOut, type SegmentJob } from "../lambda/core/sharded-fanout.ts";
import { queuedSegment } from "../lambda/handlers/broadcast-worker.ts";
import { type Helper, startHelper } from "./child.ts";

/** What the sharded benchmark measured. */
export interface ShardedResult {
  recipients: number;
  workers: number;
  segmentsInFlightPerWorker: number;
  segments: number;
  delivered: number;
  failed: number;
  seconds: number;
  perSec: number;
  accountLimitPerSec: number;
  latencyMs: number;
}

/** API Gateway's default account-wide rate for the management API (requests per second). */
export const ACCOUNT_LIMIT_PER_SEC = 10_000;

/**
 * Sharded fan-out of one message to a channel of `recipients` members: the product's dispatcher (`fanOut`, reading a
 * membership of that size page by page from an in-memory index) hands segments to broadcast-worker processes (the
 * product's worker handler and default poster), which post to a management API in its own process answering after
 * `latencyMs`. `workers` processes share this machine's cores as worker functions would share the account's rate;
 * each takes `inFlight` segments at a time, as that many worker instances would. Deliveries per second are counted
 * from the dispatcher's start to the last segment's end.
 */
export async function measureSharded(options: {
  recipients: number;
  workers: number;
  inFlight: number;
  latencyMs: number;
}): Promise<ShardedResult> {
  const api = await startHelper<{ port: number }>("bench/fake-management-api.ts", [String(options.latencyMs)]);
  const endpoint = `http://127.0.0.1:${api.ready.port}/prod`;
  const workers: Helper<unknown>[] = [];
  try {
    for (let i = 0; i < options.workers; i++) workers.push(await startHelper("bench/sharded-worker.ts", [endpoint]));
    const members: Member[] = Array.from({ length: options.recipients }, (_, i) => ({
      connectionId: `conn-${String(i).padStart(7, "0")}=`,
      username: `user${i}`,
      connectedAt: 0,
    }));
    const connections = {
      async *memberPages() {
        for (let start = 0; start < members.length; start += limits.membersPageSize) {
          yield members.slice(start, start + limits.membersPageSize);
        }
      },
      removeMany: async () => [],
    };
    const frame = {
      type: "message",
      id: "bench",
      from: "Lucy",
      message: "hello, everyone",
      channel: "huge",
      timestamp: 0,
    };

    // Warm every worker's sockets and code with one small segment each, outside the measurement.
    const warm: SegmentJob = { channel: "huge", frame: JSON.stringify(frame), members: members.slice(0, 256) };
    await Promise.all(
      workers.map((worker, i) => worker.ask({ type: "segment", id: -1 - i, body: queuedSegment(warm) }, "done")),
    );

    // The queue: segments wait until a worker has a free instance; each worker pulls as it finishes one.
    const waiting: string[] = [];
    let nextId = 0;
    let delivered = 0;
    let failed = 0;
    let outstanding = 0;
    let dispatched = false;
    let finish: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const free = workers.map(() => options.inFlight);
    const pump = () => {
      workers.forEach((worker, w) => {
        while ((free[w] ?? 0) > 0 && waiting.length > 0) {
          free[w] = (free[w] ?? 0) - 1;
          outstanding++;
          worker.child.send({ type: "segment", id: nextId++, body: waiting.shift() });
        }
      });
      if (dispatched && outstanding === 0 && waiting.length === 0) finish();
    };
    workers.forEach((worker, w) => {
      worker.child.on("message", (message: { type?: string; id?: number; delivered?: number; failed?: number }) => {
        if (message.type !== "done" || (message.id ?? 0) < 0) return;
        delivered += message.delivered ?? 0;
        failed += message.failed ?? 0;
        outstanding--;
        free[w] = (free[w] ?? 0) + 1;
        pump();
      });
    });

    const started = performance.now();
    const result = await fanOut(
      {
        connections,
        poster: { post: async () => ({ status: "failed", error: new Error("the dispatcher posts nothing here") }) },
        segmentQueue: {
          async enqueue(jobs) {
            waiting.push(...jobs.map((job) => queuedSegment(job)));
            pump();
          },
        },
      },
      "huge",
      frame,
    );
    dispatched = true;
    pump();
    await done;
    const seconds = (performance.now() - started) / 1000;
    return {
      recipients: options.recipients,
      workers: options.workers,
      segmentsInFlightPerWorker: options.inFlight,
      segments: result.segments ?? 0,
      delivered,
      failed,
      seconds: Math.round(seconds * 100) / 100,
      perSec: Math.round(delivered / seconds),
      accountLimitPerSec: ACCOUNT_LIMIT_PER_SEC,
      latencyMs: options.latencyMs,
    };
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
    await api.stop();
  }
}

// `tsx bench/sharded.ts`: this benchmark alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const workers = Number(process.env.BENCH_SHARDED_WORKERS ?? 2);
  const inFlight = Number(process.env.BENCH_SHARDED_IN_FLIGHT ?? 2);
  console.log(await measureSharded({ recipients: 100_000, workers, inFlight, latencyMs: 20 }));
}
