import type { BundleFloorResult, BundleResult } from "./bundles.ts";
import type { ChannelCost } from "./cost.ts";
import type { E2eResult } from "./e2e.ts";
import type { FanoutResult } from "./fanout.ts";
import type { FloodResult } from "./flood.ts";
import type { HandlerCpuResult } from "./handler-cpu.ts";
import type { MachineInfo } from "./machine.ts";
import type { PresenceResult } from "./presence.ts";
import type { ReadCostResult } from "./read-cost.ts";
import type { ShardedResult } from "./sharded.ts";

/** Everything one run measured: the shape of bench/results/latest.json. */
export interface BenchResults {
  machine: MachineInfo;
  seconds: number;
  readCost: ReadCostResult | null;
  fanout: FanoutResult | null;
  bundles: Record<string, BundleResult> | null;
  /** The smallest bundle any function using DynamoDB can have with the SDK bundled, and its init (bench/bundles.ts). */
  bundleFloor: BundleFloorResult | null;
  e2e: (E2eResult & { oursP50Ms: number; oursP99Ms: number; socketIoP99Ms: number; rawWsP99Ms: number }) | null;
  /** The product's sharded fan-out (bench/sharded.ts). */
  sharded: ShardedResult | null;
  /** Presence by user at scale (bench/presence.ts). */
  presence: PresenceResult | null;
  /** One user flooding beside a chatting channel, and what a refused frame costs in DynamoDB (bench/flood.ts). */
  flood: FloodResult | null;
  handlerCpu: HandlerCpuResult | null;
  cost: Record<string, ChannelCost> | null;
  costAssumptions: unknown;
  errors: Record<string, string>;
}

type Row = [benchmark: string, ours: string, reference: string, ratio: string, goal: string, result: string];

const n = (value: number, digits = 0) =>
  Number.isFinite(value)
    ? value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "n/a";
const kib = (bytes: number) => `${n(bytes / 1024)} KiB`;
const verdict = (ok: boolean | undefined) => (ok === undefined ? "—" : ok ? "pass" : "**fail**");

function rows(r: BenchResults): Row[] {
  const out: Row[] = [];
  const rc = r.readCost;
  if (rc) {
    const ratio = rc.scanItemsRead / rc.queryItemsRead;
    out.push([
      `read cost: items read for one ${rc.members}-member channel of ${n(rc.tableSize)}`,
      `${n(rc.queryItemsRead)} (query)`,
      `${n(rc.scanItemsRead)} (filtered scan)`,
      `${n(ratio)}× fewer`,
      `≤ ${rc.members} and ≥ 100× fewer`,
      verdict(rc.queryItemsRead <= rc.members && ratio >= 100 && rc.queryFound === rc.members),
    ]);
  }
  const f = r.fanout;
  if (f) {
    for (const [recipients, paths] of Object.entries(f.headline)) {
      const raw = paths.raw?.perSec ?? Number.NaN;
      for (const path of ["signed-http", "sdk-tuned", "sdk-plain"] as const) {
        const point = paths[path];
        if (!point) continue;
        const isGoal = Number(recipients) === f.recipients && path === f.poster;
        const ok = point.shareOfRaw >= 0.5 && (Number(recipients) < 10_000 || point.perSec >= 4_000);
        out.push([
          `fan-out N = ${n(Number(recipients))}, ${f.latencyMs} ms, ${f.concurrency} in flight: ${path}${path === f.poster ? " (default)" : ""}`,
          `${n(point.perSec)}/s (${n(point.cpuUsPerPost)} µs CPU/post)`,
          `${n(raw)}/s raw http`,
          `${n(point.shareOfRaw, 2)} of raw`,
          Number(recipients) >= 10_000 ? "≥ 0.50 of raw and ≥ 4,000/s" : "≥ 0.50 of raw",
          isGoal ? verdict(ok) : `${verdict(ok)} (info)`,
        ]);
      }
    }
  }
  const floorInit = r.bundleFloor?.initMsMedian ?? Number.NaN;
  for (const [name, b] of Object.entries(r.bundles ?? {})) {
    out.push([
      `bundle ${name}: minified / zipped / init (median)`,
      b.error ? `error: ${b.error}` : `${kib(b.minifiedBytes)} / ${kib(b.zippedBytes)} / ${n(b.initMsMedian, 1)} ms`,
      `${kib(b.minifiedBytesDefaultCredentials)} with the SDK's default credential chain; ${n(b.initMsSourceMapsMedian, 1)} ms with source maps`,
      `init ${n(b.initMsMedian / floorInit, 2)}× the floor's`,
      "≤ 200 KiB, ≤ 50 ms",
      verdict(!b.error && b.minifiedBytes <= 200 * 1024 && b.initMsMedian <= 50),
    ]);
  }
  if (r.bundleFloor) {
    out.push([
      `bundle floor: ${r.bundleFloor.what}, bundled the same way: minified / init (median)`,
      r.bundleFloor.error
        ? `error: ${r.bundleFloor.error}`
        : `${kib(r.bundleFloor.minifiedBytes)} / ${n(r.bundleFloor.initMsMedian, 1)} ms`,
      "timed in the same rounds as the bundles above",
      "—",
      "what any function using DynamoDB carries",
      "—",
    ]);
  }
  const e = r.e2e;
  if (e) {
    const sio = e.systems["socket.io"];
    const raw = e.systems["raw-ws"];
    const ours = e.systems.ours;
    const ratio = e.oursP99Ms / e.socketIoP99Ms;
    out.push([
      `end to end: ${n(e.clients)} clients in one channel, send → last delivery, p50 / p99`,
      ours?.skipped ?? `${n(e.oursP50Ms, 1)} / ${n(e.oursP99Ms, 1)} ms`,
      `Socket.IO ${sio?.skipped ?? `${n(sio?.p50Ms ?? Number.NaN, 1)} / ${n(e.socketIoP99Ms, 1)} ms`}; raw ws ${raw?.skipped ?? `${n(raw?.p50Ms ?? Number.NaN, 1)} / ${n(e.rawWsP99Ms, 1)} ms`}`,
      `${n(ratio, 1)}× Socket.IO's p99`,
      "p99 ≤ 5× Socket.IO's",
      Number.isFinite(ratio) ? verdict(ratio <= 5 && (ours?.incomplete ?? 1) === 0) : "skipped",
    ]);
  }
  if (r.sharded) {
    const share = r.sharded.perSec / r.sharded.accountLimitPerSec;
    out.push([
      `sharded fan-out: ${n(r.sharded.recipients)} members, ${r.sharded.segments} segments, ${r.sharded.latencyMs} ms per post`,
      `${n(r.sharded.perSec)}/s with ${r.sharded.workers} worker processes (${n(r.sharded.failed)} failed)`,
      `${n(r.sharded.accountLimitPerSec)}/s account limit`,
      `${n(share * 100, 0)}% of the limit`,
      "≥ 80% of the limit",
      verdict(share >= 0.8 && r.sharded.failed === 0 && r.sharded.delivered === r.sharded.recipients),
    ]);
  }
  out.push(...presenceRows(r.presence));
  out.push(...floodRows(r.flood));
  if (r.handlerCpu) {
    out.push([
      `$default's CPU per chat message to ${n(r.handlerCpu.members)} members, posts aside (SDK calls on dynalite, core)`,
      `${n(r.handlerCpu.cpuMsPerMessage, 2)} ms on one core (rounds: ${r.handlerCpu.rounds.map((ms) => n(ms, 2)).join(", ")})`,
      `${n(r.handlerCpu.messages)} messages a round, one at a time`,
      "—",
      "— (an input of the cost model)",
      "—",
    ]);
  }
  for (const [size, c] of Object.entries(r.cost ?? {})) {
    out.push([
      `cost per million deliveries, channel of ${n(Number(size))}`,
      `$${n(c.usdPerMillionDeliveries, 3)} (Lambda $${n(c.lambdaUsd, 3)}: ${n(c.lambdaMs)} ms; DynamoDB $${n(c.dynamoUsd, 3)})`,
      `$${n(c.apiGatewayFloorUsd, 3)} API Gateway floor`,
      `+${n(c.overheadShare * 100, 1)}%`,
      Number(size) >= 10 ? "≤ +15%" : "— (under 10 members)",
      Number(size) >= 10 ? verdict(c.overheadShare <= 0.15) : "—",
    ]);
  }
  return out;
}

function presenceRows(p: PresenceResult | null): Row[] {
  if (!p) return [];
  const out: Row[] = [];
  for (const [size, joinPosts] of Object.entries(p.postsPerJoin)) {
    const leavePosts = p.postsPerLeave[size] ?? Number.NaN;
    const reference = p.perMemberReference[size] ?? Number.NaN;
    const beyond = Number(size) > p.limit;
    out.push([
      `presence: posts per join / leave, channel of ${n(Number(size))} users (limit ${p.limit})`,
      `${n(joinPosts)} / ${n(leavePosts)}`,
      `${n(reference)} / ${n(reference)} per member (N − 1, before presence by user)`,
      reference > 0 ? `${n(Math.max(joinPosts, leavePosts) / reference, 2)} of per-member` : "—",
      beyond ? "≤ 1 beyond the limit" : "— (within the limit: every other member told)",
      beyond ? verdict(joinPosts <= 1 && leavePosts <= 1) : "—",
    ]);
  }
  const tabs = Object.entries(p.postsPerSecondTab);
  if (tabs.length > 0) {
    out.push([
      "presence: posts for a user's second tab opening and closing",
      tabs.map(([size, posts]) => `${n(posts)} at ${n(Number(size))}`).join(", "),
      "one notice per connection before",
      "—",
      "no notice without a transition",
      `${verdict(tabs.every(([, posts]) => posts === 0))} (info)`,
    ]);
  }
  const j = p.join;
  out.push([
    `presence: ${n(j.clients)} clients join one channel, ${j.concurrency} handshakes in flight, first handshake → idle`,
    `${n(j.ours.seconds, 1)} s (${n(j.ours.framesReceived)} notice frames, ${n(j.ours.failed)} failed)`,
    `raw ws ${n(j.rawWs.seconds, 2)} s; 67 s before presence by user`,
    `${n(j.ours.seconds / j.rawWs.seconds, 1)}× raw ws`,
    "≤ 10 s",
    verdict(j.ours.seconds <= 10 && j.ours.failed === 0),
  ]);
  return out;
}

function floodRows(f: FloodResult | null | undefined): Row[] {
  if (!f) return [];
  const lost = f.phases.reduce((sum, phase) => sum + phase.lost, 0);
  const kinds = Object.entries(f.refusedByKind);
  const counted = kinds.filter(([, kind]) => kind.refused === kind.frames).map(([name]) => name);
  const left = kinds.filter(([, kind]) => kind.refused !== kind.frames).map(([name]) => name);
  return [
    [
      `flood: ${f.members} members, send → delivery at each, p50 / p99, with one user flooding on ${f.flooderConnections} connections (${f.flooderWindow} frames unanswered each) / without`,
      `${n(f.p50BMs, 1)} / ${n(f.p99BMs, 1)} ms (flooder: ${n(f.flooder.framesSent)} frames at ${n(f.flooder.framesPerSecond)}/s, ${n(f.flooder.refused)} refused, ${n(f.flooder.closedByServer)} connections closed by the server, ${n(f.flooder.handshakesRefused["429"] ?? 0)} handshakes refused with 429; ${n(lost)} deliveries lost)${f.shutOutMessages > 0 ? `; of B's messages, the ${n(f.shutOutMessages)} sent while the flooder was shut out: ${n(f.p50BShutOutMs ?? Number.NaN, 1)} / ${n(f.p99BShutOutMs ?? Number.NaN, 1)} ms` : ""}`,
      `${n(f.p50AMs, 1)} / ${n(f.p99AMs, 1)} ms without (${f.phases.length / 2} rounds of A then B, ${f.messagesPerPhase} messages each, one every ${f.intervalMs} ms from ${f.senders} members)`,
      `p99 ${n(f.p99Ratio, 2)}× without`,
      "p99 ≤ 1.25× without",
      Number.isFinite(f.p99Ratio) ? verdict(f.p99Ratio <= 1.25 && lost === 0) : "—",
    ],
    [
      "flood: DynamoDB operations per refused frame (counted at the store by `X-Amz-Target`)",
      `${n(f.readsPerRefusedFrame, 2)} reads (${n(f.indexReadsPerRefusedFrame, 2)} of an index), ${n(f.writesPerRefusedFrame, 2)} writes`,
      `${n(f.refusedFrames)} frames refused: ${counted.join(", ")}${left.length ? ` (not refused, left out: ${left.join(", ")})` : ""}`,
      "—",
      "reads ≤ 1, index reads 0",
      verdict(f.refusedFrames > 0 && f.readsPerRefusedFrame <= 1 && f.indexReadsPerRefusedFrame === 0),
    ],
  ];
}

/** The results as a markdown table, with the machine and any benchmark that failed to run. */
export function markdownReport(r: BenchResults): string {
  const header: Row = ["benchmark", "ours", "reference", "ratio", "goal", "result"];
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  const m = r.machine;
  return [
    line(header),
    line(header.map(() => "---")),
    ...rows(r).map(line),
    "",
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB, Node ${m.node}, ${m.date}; load ${n(m.loadAtStart, 2)} at ` +
      `start, ${n(m.loadAtEnd ?? Number.NaN, 2)} at end${m.otherLoad.length ? `; also running: ${m.otherLoad.join("; ")}` : ""}. ` +
      `Run took ${n(r.seconds)} s.`,
    ...Object.entries(r.errors).map(([name, error]) => `\n${name} did not run: ${error}`),
  ].join("\n");
}
