import { startHelper } from "./child.ts";
import { type FanoutPath, type FanoutSample, measureFanout } from "./fanout-paths.ts";
import { median } from "./stats.ts";

/** Medians of one path at one point (recipients, concurrency). */
export interface FanoutPoint {
  perSec: number;
  cpuUsPerPost: number;
  /** perSec over the raw ceiling measured in the same rounds. */
  shareOfRaw: number;
  notDelivered: number;
}

/** The fan-out benchmark: a concurrency sweep, then the headline sizes at the chosen concurrency. */
export interface FanoutResult {
  recipients: number;
  latencyMs: number;
  /** The concurrency chosen from the sweep (see `chosenBecause`); `limits.broadcastConcurrency` is set to it. */
  concurrency: number;
  chosenBecause: string;
  /** The poster the functions use (`posterCache` in lambda/runtime/aws-clients.ts: the lean signed-http poster). */
  poster: string;
  /** At `recipients` and `concurrency`: the default poster, the tuned SDK client, the plain SDK client, the raw ceiling. */
  posterPerSec: number;
  sdkPerSec: number;
  sdkPlainPerSec: number;
  rawPerSec: number;
  /** Every path at each headline size, by recipients. */
  headline: Record<string, Partial<Record<FanoutPath, FanoutPoint>>>;
  sweepRecipients: number;
  sweep: { concurrency: number; paths: Partial<Record<FanoutPath, FanoutPoint>> }[];
}

/** Options of {@link measureFanoutSuite}; the defaults are the full run's. */
export interface FanoutOptions {
  readonly latencyMs?: number;
  readonly concurrencies?: readonly number[];
  readonly sweepRecipients?: number;
  readonly headlineRecipients?: readonly number[];
  readonly runs?: number;
}

/** Runs every path once per round, in a rotated order each round, and takes the medians. */
async function points(
  endpoint: string,
  paths: readonly FanoutPath[],
  recipients: number,
  concurrency: number,
  runs: number,
): Promise<Partial<Record<FanoutPath, FanoutPoint>>> {
  const samples = new Map<FanoutPath, FanoutSample[]>(paths.map((path) => [path, []]));
  for (let run = 0; run < runs; run++) {
    for (let turn = 0; turn < paths.length; turn++) {
      const path = paths[(turn + run) % paths.length] as FanoutPath;
      samples.get(path)?.push(await measureFanout(path, endpoint, recipients, concurrency));
    }
  }
  const raw = median((samples.get("raw") ?? []).map((s) => s.perSec));
  const result: Partial<Record<FanoutPath, FanoutPoint>> = {};
  for (const [path, list] of samples) {
    const perSec = median(list.map((s) => s.perSec));
    result[path] = {
      perSec,
      cpuUsPerPost: median(list.map((s) => s.cpuUsPerPost)),
      shareOfRaw: perSec / raw,
      notDelivered: list.reduce((sum, s) => sum + s.notDelivered, 0),
    };
  }
  return result;
}

/**
 * The smallest concurrency reaching 90% of the best rate the default poster showed in the sweep: beyond it, more
 * posts in flight buy little and cost sockets, memory and bursts against API Gateway's account-wide 10,000 posts/s.
 */
export function chooseConcurrency(
  sweep: FanoutResult["sweep"],
  path: FanoutPath,
): { concurrency: number; why: string } {
  const rates = sweep.map(({ concurrency, paths }) => ({ concurrency, perSec: paths[path]?.perSec ?? 0 }));
  const best = Math.max(...rates.map((r) => r.perSec));
  const chosen = rates.find((r) => r.perSec >= 0.9 * best) ?? rates[rates.length - 1];
  const concurrency = chosen?.concurrency ?? 128;
  return {
    concurrency,
    why:
      `${path} reached ${Math.round(chosen?.perSec ?? 0)}/s at ${concurrency} in flight, ≥ 90% of its best ` +
      `(${Math.round(best)}/s) in the sweep (${rates.map((r) => `${r.concurrency}: ${Math.round(r.perSec)}`).join(", ")})`,
  };
}

/**
 * Deliveries per second from this process to a management API answering after `latencyMs`, which runs in its own
 * process (bench/fake-management-api.ts) so its CPU does not compete with the measured one. First a sweep of the
 * concurrency for the raw ceiling and the default poster; then, at the concurrency chosen from it, every path at each
 * headline size (the plain SDK client only at the largest, where it takes longest). Each point is the median of `runs` rounds, the paths interleaved within each round.
 */
export async function measureFanoutSuite(options: FanoutOptions = {}): Promise<FanoutResult> {
  const latencyMs = options.latencyMs ?? 20;
  const concurrencies = options.concurrencies ?? [32, 64, 128, 256, 512];
  const sweepRecipients = options.sweepRecipients ?? 4_000;
  const headlineRecipients = options.headlineRecipients ?? [1_000, 10_000];
  const runs = options.runs ?? 3;
  const server = await startHelper<{ port: number }>("bench/fake-management-api.ts", [String(latencyMs)]);
  const endpoint = `http://127.0.0.1:${server.ready.port}/bench`;
  try {
    const poster: FanoutPath = "signed-http";
    // The sweep chooses the default poster's concurrency, so it measures that poster against the ceiling alone.
    const sweepPaths: FanoutPath[] = ["raw", poster];
    const sweep: FanoutResult["sweep"] = [];
    for (const concurrency of concurrencies) {
      sweep.push({ concurrency, paths: await points(endpoint, sweepPaths, sweepRecipients, concurrency, runs) });
    }
    const { concurrency, why } = chooseConcurrency(sweep, poster);
    const headline: FanoutResult["headline"] = {};
    const largest = Math.max(...headlineRecipients);
    for (const recipients of headlineRecipients) {
      const paths: FanoutPath[] = ["raw", "signed-http", "sdk-tuned"];
      if (recipients === largest) paths.push("sdk-plain");
      headline[String(recipients)] = await points(endpoint, paths, recipients, concurrency, runs);
    }
    const at = headline[String(largest)] ?? {};
    return {
      recipients: largest,
      latencyMs,
      concurrency,
      chosenBecause: why,
      poster,
      posterPerSec: at[poster]?.perSec ?? Number.NaN,
      sdkPerSec: at["sdk-tuned"]?.perSec ?? Number.NaN,
      sdkPlainPerSec: at["sdk-plain"]?.perSec ?? Number.NaN,
      rawPerSec: at.raw?.perSec ?? Number.NaN,
      headline,
      sweepRecipients,
      sweep,
    };
  } finally {
    await server.stop();
  }
}
