import { join } from "node:path";
import { type Helper, startHelper } from "./child.ts";
import { benchText, connectSocketIo, connectWebSockets, type E2eClients } from "./e2e-clients.ts";
import type { E2eServerReady } from "./e2e-server.ts";
import { median, percentile } from "./stats.ts";

/** The systems compared end to end. */
export type E2eSystem = "ours" | "socket.io" | "raw-ws";

/** What one system did. */
export interface E2eSystemResult {
  /** Median over rounds of each round's p50 / p99 of "send → the last of all clients has it". */
  p50Ms: number;
  p99Ms: number;
  rounds: { p50Ms: number; p99Ms: number }[];
  /** Messages some client never got within the timeout. */
  incomplete: number;
  /** Connecting every client, including (for ours) the channel going quiet after every join announcement. */
  connectMs: number;
  /** Frames received while connecting (ours announces each join to every member already there). */
  framesWhileConnecting: number;
  skipped?: string;
}

/** The end-to-end comparison. */
export interface E2eResult {
  clients: number;
  messagesPerRound: number;
  rounds: number;
  systems: Partial<Record<E2eSystem, E2eSystemResult>>;
}

const CHANNEL = "bench";
const MESSAGE_TIMEOUT_MS = 20_000;
const WARMUP_MESSAGES = 5;

/** Waits until no frame arrived for `quietMs` (or `deadlineMs` passed). */
async function quiet(clients: E2eClients, quietMs: number, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let seen = -1;
  while (clients.framesReceived() !== seen && Date.now() < deadline) {
    seen = clients.framesReceived();
    await new Promise((resolve) => setTimeout(resolve, quietMs));
  }
}

/** A system under test: its server process, its clients, and the deliveries of the message in flight. */
interface Running {
  system: E2eSystem;
  server: Helper<E2eServerReady>;
  clients: E2eClients;
  latencies: number[][];
  incomplete: number;
  connectMs: number;
  framesWhileConnecting: number;
  expect?: { message: number; received: number; done: () => void };
}

async function start(system: E2eSystem, count: number): Promise<Running> {
  const server = await startHelper<E2eServerReady>("bench/e2e-server.ts", [system]);
  const running = { system, server, latencies: [], incomplete: 0, connectMs: 0, framesWhileConnecting: 0 } as Omit<
    Running,
    "clients"
  > as Running;
  const onDelivery = (message: number) => {
    const expected = running.expect;
    if (expected?.message === message && ++expected.received === count) expected.done();
  };
  const started = performance.now();
  try {
    running.clients =
      system === "socket.io"
        ? await connectSocketIo(server.ready, count, CHANNEL, onDelivery)
        : await connectWebSockets(server.ready, count, CHANNEL, onDelivery);
  } catch (error) {
    await server.stop();
    throw error;
  }
  await quiet(running.clients, 1_000, 240_000);
  running.connectMs = performance.now() - started;
  running.framesWhileConnecting = running.clients.framesReceived();
  return running;
}

/** Sends one message and resolves with the time until every client had it (NaN when some never did). */
function deliverOne(running: Running, message: number, sender: number): Promise<number> {
  return new Promise((resolve) => {
    const sentAt = performance.now();
    const timer = setTimeout(() => {
      running.expect = undefined;
      running.incomplete++;
      resolve(Number.NaN);
    }, MESSAGE_TIMEOUT_MS);
    running.expect = {
      message,
      received: 0,
      done: () => {
        clearTimeout(timer);
        running.expect = undefined;
        resolve(performance.now() - sentAt);
      },
    };
    running.clients.send(sender, benchText(message));
  });
}

/**
 * `clients` clients in one channel of each system (ours on the local stack; Socket.IO rooms; a raw ws broadcast), each
 * server in its own process and every client in this one. Messages go one at a time, interleaved across the systems,
 * each timed from send to its delivery to the last client; after a few unmeasured ones, `rounds` rounds of
 * `messagesPerRound` messages, sent from different clients so no sender nears ours' rate limit (20 per 10 s).
 */
export async function measureE2e(clients = 1_000, rounds = 3, messagesPerRound = 20): Promise<E2eResult> {
  const result: E2eResult = { clients, messagesPerRound, rounds, systems: {} };
  const running: Running[] = [];
  try {
    for (const system of ["ours", "socket.io", "raw-ws"] as const) {
      try {
        running.push(await start(system, clients));
      } catch (error) {
        const reason = system === "socket.io" ? "skipped: socket.io not installed or failed" : "failed";
        result.systems[system] = {
          p50Ms: Number.NaN,
          p99Ms: Number.NaN,
          rounds: [],
          incomplete: 0,
          connectMs: 0,
          framesWhileConnecting: 0,
          skipped: `${reason} (${error instanceof Error ? error.message : error})`,
        };
      }
    }
    let message = 0;
    // A few unmeasured messages first, so each server's and the clients' code paths are compiled before timing.
    for (let index = 0; index < WARMUP_MESSAGES; index++) {
      message++;
      for (const each of running) await deliverOne(each, message, (message * 37) % clients);
    }
    // With BENCH_PROFILE_DIR set, each server is profiled over the whole message phase (not while connecting).
    const profileDir = process.env.BENCH_PROFILE_DIR;
    if (profileDir) for (const each of running) await each.server.ask({ type: "profile-start" }, "profiling");
    for (let round = 0; round < rounds; round++) {
      for (const each of running) each.latencies.push([]);
      for (let index = 0; index < messagesPerRound; index++) {
        message++;
        const sender = (message * 37) % clients;
        // Rotate which system goes first, so none always follows the same neighbour.
        for (let turn = 0; turn < running.length; turn++) {
          const each = running[(turn + message) % running.length] as Running;
          const ms = await deliverOne(each, message, sender);
          if (!Number.isNaN(ms)) each.latencies[round]?.push(ms);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    }
    if (profileDir) {
      for (const each of running) {
        const file = join(profileDir, `e2e-${each.system}-server.cpuprofile`);
        await each.server.ask({ type: "profile-stop", file }, "profiled");
      }
    }
    for (const each of running) {
      const perRound = each.latencies.map((list) => ({ p50Ms: percentile(list, 50), p99Ms: percentile(list, 99) }));
      result.systems[each.system] = {
        p50Ms: median(perRound.map((r) => r.p50Ms)),
        p99Ms: median(perRound.map((r) => r.p99Ms)),
        rounds: perRound,
        incomplete: each.incomplete,
        connectMs: each.connectMs,
        framesWhileConnecting: each.framesWhileConnecting,
      };
    }
    return result;
  } finally {
    for (const each of running) {
      each.clients.close();
      await each.server.stop();
    }
  }
}
