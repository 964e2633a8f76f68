import { pathToFileURL } from "node:url";
import { WebSocket } from "ws";
import { limits } from "../lambda/core/limits.ts";
import { signSessionToken, tokenKey } from "../lambda/core/session-token.ts";
import { DynamoOpCounter, type DynamoOpCounts } from "../local/dynamo-op-counter.ts";
import { type Helper, startHelper } from "./child.ts";
import { E2E_SECRET } from "./e2e-secret.ts";
import type { FlooderStats } from "./flood-client.ts";
import type { FloodServerReady } from "./flood-server.ts";
import { percentile, round } from "./stats.ts";

/** One phase: `messages` chat messages at a steady pace, each timed at every member. */
export interface FloodPhase {
  phase: "A" | "B";
  p50Ms: number;
  p99Ms: number;
  /** Deliveries timed (members × messages when none was lost). */
  deliveries: number;
  /** Deliveries that never came. */
  lost: number;
  /** Phase B: how long after the flooder stopped writing until the stack was idle (its backlog handled). */
  drainMs?: number;
}

/** What the refusal probe counted for one kind of frame, sent once the user's windows were used up. */
export interface RefusedKind {
  frames: number;
  /** Answered `rate_limited`: only these count; a kind some of whose frames were answered otherwise is left out. */
  refused: number;
  reads: number;
  indexReads: number;
  writes: number;
  byOperation: Record<string, number>;
  byTable: Record<string, number>;
}

/** The flood benchmark's results (bench/results/latest.json `flood`). */
export interface FloodResult {
  members: number;
  senders: number;
  intervalMs: number;
  messagesPerPhase: number;
  /** The phases in the order run (A, B, A, B, …). */
  phases: FloodPhase[];
  /** Over all phases of each kind. */
  p50AMs: number;
  p99AMs: number;
  p50BMs: number;
  p99BMs: number;
  /** p99(B) / p99(A): what one user flooding on their own connections costs everyone else's latency. */
  p99Ratio: number;
  /**
   * Phase B's messages sent while the flooder had no connection open: every one closed for flooding, its places kept
   * for a minute, its handshakes refused with 429. The rest of B's messages were sent during its bursts.
   */
  shutOutMessages: number;
  /** Over the deliveries of those messages (null when there were none). */
  p50BShutOutMs: number | null;
  p99BShutOutMs: number | null;
  flooderConnections: number;
  flooderWindow: number;
  flooder: FlooderStats & { floodSeconds: number; framesPerSecond: number };
  /** DynamoDB reads (GetItem, BatchGetItem, Query, Scan, TransactGetItems) per refused frame, index reads included. */
  readsPerRefusedFrame: number;
  /** Queries and scans of a secondary index per refused frame. */
  indexReadsPerRefusedFrame: number;
  writesPerRefusedFrame: number;
  /** The refusal probe, by kind of frame; kinds not refused (the rate does not cover them) are marked so. */
  refusedFrames: number;
  refusedByKind: Record<string, RefusedKind>;
  probeAttempts: number;
}

export interface FloodOptions {
  members?: number;
  /** Members taking turns to post (each user stays well within 20 messages per 10 s). */
  senders?: number;
  intervalMs?: number;
  messagesPerPhase?: number;
  /** A then B, this many times. */
  rounds?: number;
  flooderConnections?: number;
  /** Frames each flooder connection keeps unanswered, writing the next as soon as one is answered. */
  flooderWindow?: number;
  /** Connections of the refusal probe's user, and frames of each kind per connection. */
  probeConnections?: number;
  probeFramesPerKind?: number;
}

const CHANNEL = "flood";
const PROBE_CHANNEL = "flood-probe";
const DELIVERY_TIMEOUT_MS = 30_000;
const WARMUP_MESSAGES = 10;
/** The stack counts as idle once no DynamoDB operation and no flooder answer came for this long. */
const QUIET_MS = 1_000;
/** Within the refusal probe, between kinds: long against one refused frame's handling (a few ms). */
const PROBE_QUIET_MS = 300;
const MEASURED = /"message":"m-(\d+)"/;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `task` over `items` with at most `limit` at a time. */
async function pool<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function urlFor(wsUrl: string, channel: string, username: string): Promise<string> {
  const { token } = await signSessionToken(tokenKey(E2E_SECRET), username, 3_600);
  return `${wsUrl}?${new URLSearchParams({ channel, token })}`;
}

function open(url: string, onFrame: (text: string) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.on("message", (data) => onFrame(data.toString()));
    socket.once("open", () => resolve(socket));
    socket.once("unexpected-response", (_, response) => reject(new Error(`handshake refused: ${response.statusCode}`)));
    socket.once("error", reject);
  });
}

/** Waits until `probe()` has not changed for `quietMs`; answers how long that took, the quiet stretch excluded. */
async function quiet(probe: () => Promise<string>, quietMs = QUIET_MS, deadlineMs = 120_000): Promise<number> {
  const started = performance.now();
  let last = await probe();
  let changedAt = performance.now();
  while (performance.now() - changedAt < quietMs) {
    if (performance.now() - started > deadlineMs) throw new Error(`the stack was still busy after ${deadlineMs} ms`);
    await sleep(100);
    const now = await probe();
    if (now !== last) {
      last = now;
      changedAt = performance.now();
    }
  }
  return changedAt - started;
}

/**
 * Benchmark 8: one hostile user flooding at full speed on its own connections, beside a channel of `members` users
 * chatting at a human pace. Phases A (no flooder) and B (the flooder writing as fast as its sockets take frames, on
 * up to 10 connections, mixing `send`, `who`, `history` and `ping`, reconnecting whenever the server closes one)
 * alternate, each timing the same number of messages from send to delivery at every member. Then the refusal probe:
 * a user whose windows are used up sends each kind of frame, every one refused, and the DynamoDB operations the stack
 * made meanwhile (counted by `X-Amz-Target` at the store) are divided by the frames refused.
 */
export async function measureFlood(options: FloodOptions = {}): Promise<FloodResult> {
  const members = options.members ?? 100;
  const senders = options.senders ?? 5;
  const intervalMs = options.intervalMs ?? 150;
  const messagesPerPhase = options.messagesPerPhase ?? 30;
  const rounds = options.rounds ?? 2;
  const flooderConnections = options.flooderConnections ?? 10;
  const flooderWindow = options.flooderWindow ?? 16;
  const server = await startHelper<FloodServerReady>(new URL("flood-server.ts", import.meta.url).pathname);
  let flooder: Helper<{ type: "ready" }> | undefined;
  const sockets: WebSocket[] = [];
  try {
    flooder = await startHelper(new URL("flood-client.ts", import.meta.url).pathname);
    const ops = async () => (await server.ask<{ counts: DynamoOpCounts }>({ type: "ops" }, "ops")).counts;
    const flooderStats = async () => (await flooder?.ask<{ stats: FlooderStats }>({ type: "stats" }, "stats"))?.stats;
    // Idle: no DynamoDB operation and no answer on the flooder's connections. Its handshakes refused with 429 (its
    // places kept for a minute after its connections were closed for flooding) are retried throughout and cost the
    // stack no DynamoDB call once it knows the user's places are kept: they do not count as activity.
    const idle = (quietMs?: number) =>
      quiet(async () => {
        const { handshakesRefused: _, ...answers } = (await flooderStats()) ?? {};
        return `${(await ops()).total} ${JSON.stringify(answers)}`;
      }, quietMs);

    // The members, each a user of their own; message `m-<n>` is timed at each of them.
    const sentAt: number[] = [];
    /** Messages of phase B sent while the flooder had no connection open (all closed, its handshakes refused). */
    const shutOut = new Set<number>();
    let phaseLatencies: number[] = [];
    let shutOutLatencies: number[] = [];
    let arrived = 0;
    const onFrame = (text: string) => {
      const match = MEASURED.exec(text);
      if (!match) return;
      const n = Number(match[1]);
      const at = sentAt[n];
      if (at === undefined) return;
      phaseLatencies.push(performance.now() - at);
      if (shutOut.has(n)) shutOutLatencies.push(performance.now() - at);
      arrived++;
    };
    const urls = await Promise.all(
      Array.from({ length: members }, (_, index) => urlFor(server.ready.wsUrl, CHANNEL, `member${index}`)),
    );
    sockets.push(...(await pool(urls, 16, (url) => open(url, onFrame))));
    // The flooder's connections are members in every phase (idle in A), so each message has as many recipients.
    const startFlooder = (window: number) =>
      flooder?.ask(
        {
          type: "start",
          wsUrl: server.ready.wsUrl,
          channel: CHANNEL,
          username: "flooder",
          connections: flooderConnections,
          window,
        },
        "started",
      );
    await startFlooder(0);
    await idle();

    let message = 0;
    const runPhase = async (phase: "A" | "B", count = messagesPerPhase): Promise<FloodPhase> => {
      phaseLatencies = [];
      shutOutLatencies = [];
      arrived = 0;
      const first = message;
      let floodStarted = 0;
      // Whether the flooder has a connection open, polled beside the sends so that asking never delays one.
      let flooderOpen = true;
      let polling = phase === "B";
      const poll = (async () => {
        while (polling) {
          flooderOpen = ((await flooderStats())?.open ?? 0) > 0;
          await sleep(50);
        }
      })();
      if (phase === "B") {
        await startFlooder(flooderWindow);
        floodStarted = performance.now();
        await sleep(1_000); // the flood under way before the first timed message
      }
      // Open loop: a message every `intervalMs` whatever happened to the ones before (no coordinated omission).
      for (let index = 0; index < count; index++) {
        const n = message++;
        if (phase === "B" && !flooderOpen) shutOut.add(n);
        sentAt[n] = performance.now();
        sockets[n % senders]?.send(JSON.stringify({ action: "send", message: `m-${n}` }));
        await sleep(intervalMs);
      }
      polling = false;
      await poll;
      const expected = count * members;
      const deadline = performance.now() + DELIVERY_TIMEOUT_MS;
      while (arrived < expected && performance.now() < deadline) await sleep(20);
      const result: FloodPhase = {
        phase,
        p50Ms: round(percentile(phaseLatencies, 50), 1),
        p99Ms: round(percentile(phaseLatencies, 99), 1),
        deliveries: phaseLatencies.length,
        lost: expected - arrived,
      };
      if (phase === "B") {
        await flooder?.ask({ type: "stop" }, "stopped");
        floodSeconds += (performance.now() - floodStarted) / 1000;
        result.drainMs = Math.round(await idle());
        // The next phase A has the same recipients as this one had: the flooder's connections, closed for flooding,
        // open again (idle) once their kept places have expired (`limits.closedPlaceKeptMs`).
        const reopenBy = performance.now() + limits.closedPlaceKeptMs + 30_000;
        while (((await flooderStats())?.open ?? 0) < flooderConnections) {
          if (performance.now() > reopenBy) throw new Error("the flooder's connections did not open again");
          await sleep(200);
        }
        await idle();
      }
      for (let n = first; n < message; n++) delete sentAt[n];
      samples.push({ phase, latencies: phaseLatencies, shutOut: shutOutLatencies });
      return result;
    };
    let floodSeconds = 0;
    const samples: { phase: "A" | "B"; latencies: number[]; shutOut: number[] }[] = [];
    const phases: FloodPhase[] = [];
    // A few unmeasured messages first, so the stack's and the clients' code paths are compiled before timing.
    await runPhase("A", WARMUP_MESSAGES);
    samples.length = 0;
    for (let r = 0; r < rounds; r++) {
      phases.push(await runPhase("A"));
      phases.push(await runPhase("B"));
    }
    const flood = (await flooder.ask<{ stats: FlooderStats }>({ type: "end" }, "ended")).stats;
    await idle();
    const probe = await probeRefusals(server.ready.wsUrl, ops, idle, options);
    const pooled = (phase: "A" | "B", p: number) =>
      round(
        percentile(
          samples.filter((each) => each.phase === phase).flatMap((each) => each.latencies),
          p,
        ),
        1,
      );
    const [p99A, p99B] = [pooled("A", 99), pooled("B", 99)];
    const shutOutPooled = samples.flatMap((each) => each.shutOut);
    return {
      members,
      senders,
      intervalMs,
      messagesPerPhase,
      phases,
      p50AMs: pooled("A", 50),
      p99AMs: p99A,
      p50BMs: pooled("B", 50),
      p99BMs: p99B,
      p99Ratio: round(p99B / p99A, 2),
      shutOutMessages: shutOut.size,
      p50BShutOutMs: shutOut.size > 0 ? round(percentile(shutOutPooled, 50), 1) : null,
      p99BShutOutMs: shutOut.size > 0 ? round(percentile(shutOutPooled, 99), 1) : null,
      flooderConnections,
      flooderWindow,
      flooder: {
        ...flood,
        floodSeconds: round(floodSeconds, 1),
        framesPerSecond: round(flood.framesSent / floodSeconds),
      },
      ...probe,
    };
  } finally {
    for (const socket of sockets) socket.terminate();
    await flooder?.stop();
    await server.stop();
  }
}

/** The frames of the refusal probe: every kind the per-user rates cover. */
const PROBE_KINDS: Record<string, (tag: string) => string> = {
  send: (tag) => JSON.stringify({ action: "send", message: tag }),
  who: () => '{"action":"who"}',
  history: () => '{"action":"history"}',
  ping: () => '{"action":"ping"}',
  malformed: () => '{"action":"send"}',
};

/** A probe connection: the answers it had, and a wait for as many as it sent. */
interface ProbeSocket {
  socket: WebSocket;
  sent: number;
  answered: number;
  codes: Record<string, number>;
  waiting?: () => void;
}

/** Sends `frames` on each connection (`frame(connection, i)`) and waits until every one of them was answered. */
async function sendAll(probes: ProbeSocket[], count: number, frame: (connection: number, i: number) => string) {
  for (const probe of probes) probe.codes = {};
  await Promise.all(
    probes.map(
      (probe, connection) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("a probe frame was never answered")), DELIVERY_TIMEOUT_MS);
          probe.waiting = () => {
            if (probe.answered < probe.sent) return;
            clearTimeout(timer);
            probe.waiting = undefined;
            resolve();
          };
          for (let i = 0; i < count; i++) {
            probe.sent++;
            probe.socket.send(frame(connection, i));
          }
        }),
    ),
  );
  const codes: Record<string, number> = {};
  for (const probe of probes) for (const [code, n] of Object.entries(probe.codes)) codes[code] = (codes[code] ?? 0) + n;
  return codes;
}

/**
 * The refusal probe: a user of its own on `probeConnections` connections of a channel of its own uses up its windows
 * (20 chat messages and 20 pings on every connection, all answered), then sends each kind of frame in turn, every
 * answer awaited; the DynamoDB operations counted at the store between the first and the last of a kind are that
 * kind's. Every connection stays under 100 refusals, so none is closed (a close's `$disconnect` would be counted).
 * A window that ended during the probe lets frames through: then the probe runs again with a new user.
 */
async function probeRefusals(
  wsUrl: string,
  ops: () => Promise<DynamoOpCounts>,
  idle: (quietMs?: number) => Promise<number>,
  options: FloodOptions,
): Promise<
  Pick<
    FloodResult,
    | "readsPerRefusedFrame"
    | "indexReadsPerRefusedFrame"
    | "writesPerRefusedFrame"
    | "refusedFrames"
    | "refusedByKind"
    | "probeAttempts"
  >
> {
  const connections = options.probeConnections ?? 10;
  const perKind = options.probeFramesPerKind ?? 8;
  const windowMs = 10_000;
  for (let attempt = 1; ; attempt++) {
    const probes: ProbeSocket[] = [];
    try {
      const url = await urlFor(wsUrl, PROBE_CHANNEL, `probe${attempt}`);
      for (let connection = 0; connection < connections; connection++) {
        const probe: ProbeSocket = { socket: undefined as unknown as WebSocket, sent: 0, answered: 0, codes: {} };
        const own = `"message":"p${connection}-`;
        probe.socket = await open(url, (text) => {
          const frame = JSON.parse(text) as { type?: string; code?: string; from?: string };
          // Answers: replies and errors, and this connection's own chat messages coming back (not the other tabs').
          if (frame.type === "system" || (frame.type === "message" && !text.includes(own))) return;
          probe.answered++;
          const code = frame.type === "error" ? (frame.code ?? "error") : (frame.type ?? "?");
          probe.codes[code] = (probe.codes[code] ?? 0) + 1;
          probe.waiting?.();
        });
        probes.push(probe);
      }
      await idle();
      // Early in one fixed window (aligned to the epoch), so the probe ends in the window it used up.
      if (Date.now() % windowMs > 2_000) await sleep(windowMs - (Date.now() % windowMs) + 50);
      const window = Math.floor(Date.now() / windowMs);
      await sendAll(probes, 20, (c, i) => JSON.stringify({ action: "send", message: `p${c}-use-${i}` }));
      // The other requests' window is the user's (PROTOCOL v2): one connection's pings use it up for all of them.
      await sendAll(probes.slice(0, 1), 20, () => '{"action":"ping"}');
      // Accepted messages are posted to the probe's other connections after their senders were answered.
      await idle(PROBE_QUIET_MS);
      const refusedByKind: Record<string, RefusedKind> = {};
      for (const [kind, frame] of Object.entries(PROBE_KINDS)) {
        const before = await ops();
        const codes = await sendAll(probes, perKind, (c, i) => frame(`p${c}-${kind}-${i}`));
        // A handler may still write after its answer was posted: the kind's count ends once the store is quiet.
        await idle(PROBE_QUIET_MS);
        const spent = DynamoOpCounter.difference(await ops(), before);
        refusedByKind[kind] = {
          frames: perKind * connections,
          refused: codes.rate_limited ?? 0,
          reads: spent.reads,
          indexReads: spent.indexReads,
          writes: spent.writes,
          byOperation: spent.byOperation,
          byTable: spent.byTable,
        };
      }
      if (Math.floor(Date.now() / windowMs) !== window && attempt < 3) continue;
      const counted = Object.values(refusedByKind).filter((kind) => kind.refused === kind.frames);
      const sum = (key: "refused" | "reads" | "indexReads" | "writes") =>
        counted.reduce((total, kind) => total + kind[key], 0);
      const refused = sum("refused");
      return {
        readsPerRefusedFrame: round(sum("reads") / refused, 3),
        indexReadsPerRefusedFrame: round(sum("indexReads") / refused, 3),
        writesPerRefusedFrame: round(sum("writes") / refused, 3),
        refusedFrames: refused,
        refusedByKind,
        probeAttempts: attempt,
      };
    } finally {
      for (const probe of probes) probe.socket.terminate();
      await idle();
    }
  }
}

// `npx tsx bench/flood.ts [--quick] [--window=16]` runs this benchmark alone and prints its results.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const quick = process.argv.includes("--quick");
  const window = process.argv.find((arg) => arg.startsWith("--window="));
  const result = await measureFlood({
    ...(quick ? { members: 20, messagesPerPhase: 10, rounds: 1 } : {}),
    ...(window ? { flooderWindow: Number(window.slice("--window=".length)) } : {}),
  });
  console.log(JSON.stringify(result, null, 2));
}
