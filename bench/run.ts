// The SDK's notice that releases after early 2027 need Node 22 is noise here (Lambda runs Node 24).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { limits } from "../lambda/core/limits.ts";
import { measureBundles } from "./bundles.ts";
import { costModel, defaultAssumptions } from "./cost.ts";
import { measureE2e } from "./e2e.ts";
import { measureFanoutSuite } from "./fanout.ts";
import { measureFlood } from "./flood.ts";
import { measureHandlerCpu } from "./handler-cpu.ts";
import { finishMachineInfo, machineInfo } from "./machine.ts";
import { measurePresence } from "./presence.ts";
import { measureReadCost } from "./read-cost.ts";
import { type BenchResults, markdownReport } from "./report.ts";
import { measureSharded } from "./sharded.ts";

/**
 * `npm run bench`: every benchmark in one run, each against its reference measured in the same run, then the table
 * and bench/results/latest.json. `--quick` shrinks every size for a smoke run (its figures mean nothing). Everything
 * talks to 127.0.0.1 only; helpers are child processes that end with this one.
 */
const quick = process.argv.includes("--quick");
const deadline = setTimeout(() => {
  console.error("bench: still running after 10 minutes; giving up");
  process.exit(2);
}, 600_000);
deadline.unref();

const started = performance.now();
const results: BenchResults = {
  machine: machineInfo(),
  seconds: 0,
  readCost: null,
  fanout: null,
  bundles: null,
  bundleFloor: null,
  e2e: null,
  sharded: null,
  presence: null,
  flood: null,
  handlerCpu: null,
  cost: null,
  costAssumptions: null,
  errors: {},
};

async function step<T>(name: string, run: () => Promise<T>): Promise<T | null> {
  const at = performance.now();
  process.stderr.write(`bench: ${name}…`);
  try {
    const value = await run();
    process.stderr.write(` ${((performance.now() - at) / 1000).toFixed(1)} s\n`);
    return value;
  } catch (error) {
    process.stderr.write(" failed\n");
    results.errors[name] = error instanceof Error ? (error.stack ?? error.message) : String(error);
    return null;
  }
}

results.readCost = await step("read cost", () => measureReadCost(quick ? 1_000 : 10_000, quick ? 10 : 100));
results.fanout = await step("fan-out", () =>
  measureFanoutSuite(
    quick ? { concurrencies: [64, 256], sweepRecipients: 500, headlineRecipients: [500, 1_000], runs: 1 } : {},
  ),
);
// The floor (the DynamoDB client alone) is built and timed in the same rounds as the entries, so init is a ratio.
const bundles = await step("bundles", async () => {
  const { chatBundleTarget } = await import("../infra/chat-function.ts");
  return measureBundles(chatBundleTarget, quick ? 2 : 10);
});
results.bundles = bundles?.bundles ?? null;
results.bundleFloor = bundles?.floor ?? null;
const e2e = await step("end to end", () => (quick ? measureE2e(50, 1, 5) : measureE2e(1_000, 3, 20)));
if (e2e) {
  results.e2e = {
    ...e2e,
    oursP50Ms: e2e.systems.ours?.p50Ms ?? Number.NaN,
    oursP99Ms: e2e.systems.ours?.p99Ms ?? Number.NaN,
    socketIoP99Ms: e2e.systems["socket.io"]?.p99Ms ?? Number.NaN,
    rawWsP99Ms: e2e.systems["raw-ws"]?.p99Ms ?? Number.NaN,
  };
}

// Sharded fan-out: 100,000 recipients split by the product's dispatcher into segments for worker processes, one per
// core (the management API in a process of its own), each taking two segments at a time as two worker instances.
results.sharded = await step("sharded fan-out", () =>
  measureSharded({ recipients: quick ? 10_000 : 100_000, workers: 2, inFlight: 2, latencyMs: 20 }),
);

// Presence by user: posts per join and leave through the real core on dynalite, then 1,000 clients joining one channel.
results.presence = await step("presence", () => measurePresence(quick));

// One user flooding on its own connections beside a 100-member channel chatting at a human pace (phases with and
// without, alternated), then the DynamoDB operations a refused frame costs, counted at the store.
results.flood = await step("flood", () =>
  measureFlood(quick ? { members: 20, messagesPerPhase: 10, rounds: 1, probeFramesPerKind: 2 } : {}),
);

// The CPU of one chat message in `$default` besides its posts, for the cost model.
results.handlerCpu = await step("handler CPU", () => measureHandlerCpu(quick ? { messages: 20, rounds: 1 } : {}));

const msPerDelivery = results.fanout ? 1000 / results.fanout.posterPerSec : defaultAssumptions.msPerDelivery;
const assumptions = {
  ...defaultAssumptions,
  msPerDelivery: Number.isFinite(msPerDelivery) ? msPerDelivery : defaultAssumptions.msPerDelivery,
  handlerCpuMs: results.handlerCpu?.cpuMsPerMessage ?? defaultAssumptions.handlerCpuMs,
  pageSize: limits.membersPageSize,
};
const model = costModel([2, 10, 100, 1_000], assumptions);
results.cost = model.bySize;
results.costAssumptions = { ...model.assumptions, prices: model.prices };

results.machine = finishMachineInfo(results.machine);
results.seconds = (performance.now() - started) / 1000;
// A quick run's figures mean nothing, so they go to the temporary folder, never beside the real results.
const file = quick ? join(tmpdir(), "chat-bench-quick.json") : new URL("results/latest.json", import.meta.url).pathname;
await mkdir(new URL("results/", import.meta.url), { recursive: true });
await writeFile(file, `${JSON.stringify(results, (_, v) => (Number.isNaN(v) ? null : v), 2)}\n`);
console.log(markdownReport(results));
console.log(`\nwrote ${file}`);
process.exit(Object.keys(results.errors).length > 0 ? 1 : 0);
