import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { deflateRawSync } from "node:zlib";
import { type BuildOptions, build, type Metafile } from "esbuild";
import { bundleAliases, requireShim } from "../infra/chat-function.ts";
import { median } from "./stats.ts";

/** One Lambda entry as deployed: its bundle's size, what is in it, and how long its module takes to initialise. */
export interface BundleResult {
  minifiedBytes: number;
  /** The deployment package (code and source map), zipped at level 9 as CDK's asset zip does. */
  zippedBytes: number;
  /** Median of fresh processes, without source maps, as the functions run (infra/chat-function.ts). */
  initMsMedian: number;
  /** The same with `--enable-source-maps` (the functions at log level DEBUG), to show what they cost. */
  initMsSourceMapsMedian: number;
  /** Minified size with the SDK's default credential chain (without the bundles' alias), for comparison. */
  minifiedBytesDefaultCredentials: number;
  /** The largest contributors to the minified output, by package. */
  largest: { input: string; bytes: number }[];
  error?: string;
}

const root = new URL("..", import.meta.url).pathname;
const entryDir = join(root, "lambda", "entry");

/** The environment the entries need to load without reaching the network (the secret given inline, not by ARN). */
const entryEnv = {
  AWS_REGION: "us-east-1",
  CONNECTIONS_TABLE: "chat-connections",
  HISTORY_TABLE: "chat-history",
  PRESENCE_TABLE: "chat-presence",
  RATES_TABLE: "chat-rates",
  MEMBERS_TABLE: "chat-members",
  CHAT_EVENT_BUS_NAME: "chat-events",
  // As the stack sets it for every function that posts (infra/chat-stack.ts); the worker requires it.
  CHAT_MANAGEMENT_ENDPOINT: "https://abcdef1234.execute-api.us-east-1.amazonaws.com/chat",
  CHAT_TOKEN_SECRET: "a-benchmark-secret-that-is-long-enough-for-hs256",
  POWERTOOLS_SERVICE_NAME: "chat",
  POWERTOOLS_LOG_LEVEL: "INFO",
  POWERTOOLS_METRICS_NAMESPACE: "Chat",
  // Lambda runs Node 24, where the SDK has nothing to warn about; on the Node 20 here it would print a warning.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
};

/** Approximate size of a zip holding these files, deflated at level 9 (local and central headers included). */
function zipSize(files: { name: string; data: Buffer }[]): number {
  const entries = files.map(
    ({ name, data }) => deflateRawSync(data, { level: 9 }).byteLength + 30 + 46 + 2 * name.length,
  );
  return entries.reduce((sum, size) => sum + size, 22);
}

/** Output bytes by package (or by our folder), largest first. */
function largestInputs(metafile: Metafile, top = 8): { input: string; bytes: number }[] {
  const byPackage = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const key = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? input.split("/").slice(0, 2).join("/");
      byPackage.set(key, (byPackage.get(key) ?? 0) + bytesInOutput);
    }
  }
  return [...byPackage]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([input, bytes]) => ({ input, bytes }));
}

/** esbuild's options for one entry, as NodejsFunction passes them (infra/chat-function.ts). */
const buildOptions = (entry: string, outfile: string, target: string): BuildOptions & { metafile: true } => ({
  entryPoints: [entry],
  bundle: true,
  platform: "node",
  format: "esm",
  target,
  minify: true,
  sourcemap: true,
  mainFields: ["module", "main"],
  banner: { js: requireShim },
  alias: bundleAliases,
  outfile,
  metafile: true,
  logLevel: "silent",
});

/**
 * What every function that touches DynamoDB must carry, whatever our code does: the DynamoDB Document client and the
 * commands the chat sends, with the same credential alias, bundled with the same options. The smallest bundle a
 * function with the SDK bundled can have.
 */
const sdkFloorSource = `
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DeleteCommand, DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
export const handler = (table) => Promise.all([
  doc.send(new PutCommand({ TableName: table, Item: {} })),
  doc.send(new QueryCommand({ TableName: table })),
  doc.send(new BatchWriteCommand({ RequestItems: {} })),
  doc.send(new DeleteCommand({ TableName: table, Key: {} })),
]);
`;

/** The floor: what any function using DynamoDB carries, its size and its module's initialisation beside the entries'. */
export interface BundleFloorResult {
  what: string;
  minifiedBytes: number;
  /** Median of fresh processes, timed round-robin with the entries' own (see {@link measureBundles}). */
  initMsMedian: number;
  error?: string;
}

/** Bundles {@link sdkFloorSource} as the entries are bundled, to `outfile`; its minified size. */
async function buildSdkFloor(target: string, outfile: string): Promise<number> {
  const { entryPoints: _, ...options } = buildOptions("", outfile, target);
  await build({ ...options, stdin: { contents: sdkFloorSource, resolveDir: root, loader: "js" } });
  return (await readFile(outfile)).byteLength;
}

const runNode = promisify(execFile);
const initScript = (file: string) =>
  `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); ` +
  "process.stdout.write(String(performance.now() - t));";

/** Milliseconds `await import(bundle)` takes in a fresh Node process. */
async function initMs(file: string, sourceMaps: boolean): Promise<number> {
  const flags = sourceMaps ? ["--enable-source-maps"] : [];
  const { stdout } = await runNode(process.execPath, [...flags, "--input-type=module", "-e", initScript(file)], {
    env: { PATH: process.env.PATH ?? "", ...entryEnv },
  });
  return Number(stdout);
}

/** Every entry's bundle, and the floor measured in the same rounds. */
export interface BundlesResult {
  bundles: Record<string, BundleResult>;
  floor: BundleFloorResult;
}

/**
 * Bundles every `lambda/entry/*.ts` as infra/chat-function.ts has CDK do it (esbuild, ESM, minified, source map, the
 * AWS SDK bundled, module fields first, the require shim), and the floor ({@link sdkFloorSource}) alike, then loads
 * each bundle in `processes` fresh Node processes, round-robin across the entries and the floor so a burst of machine
 * noise does not land on one of them, and each entry's init can be judged as a ratio of the floor's.
 */
export async function measureBundles(target: string, processes = 10): Promise<BundlesResult> {
  const dir = await mkdtemp(join(tmpdir(), "chat-bench-bundles-"));
  try {
    const floorFile = join(dir, "floor", "index.mjs");
    const floor: BundleFloorResult = {
      what: "the DynamoDB Document client alone (Put, Query, BatchWrite, Delete)",
      minifiedBytes: 0,
      initMsMedian: Number.NaN,
    };
    const floorInits: number[] = [];
    try {
      floor.minifiedBytes = await buildSdkFloor(target, floorFile);
    } catch (error) {
      floor.error = error instanceof Error ? error.message.split("\n")[0] : String(error);
    }
    const entries = (await readdir(entryDir))
      .filter((file) => file.endsWith(".ts"))
      .map((file) => basename(file, ".ts"));
    const results: Record<string, BundleResult> = {};
    const built: string[] = [];
    for (const name of entries) {
      const outfile = join(dir, name, "index.mjs");
      try {
        const entry = join(entryDir, `${name}.ts`);
        const { metafile } = await build(buildOptions(entry, outfile, target));
        // For comparison: the SDK's default credential chain, as a bundle without the alias would have it.
        const variant = join(dir, name, "default-credentials.mjs");
        await build({ ...buildOptions(entry, variant, target), alias: {} });
        const code = await readFile(outfile);
        const map = await readFile(`${outfile}.map`);
        results[name] = {
          minifiedBytes: code.byteLength,
          zippedBytes: zipSize([
            { name: "index.mjs", data: code },
            { name: "index.mjs.map", data: map },
          ]),
          initMsMedian: Number.NaN,
          initMsSourceMapsMedian: Number.NaN,
          minifiedBytesDefaultCredentials: (await readFile(variant)).byteLength,
          largest: largestInputs(metafile),
        };
        built.push(name);
      } catch (error) {
        results[name] = {
          minifiedBytes: 0,
          zippedBytes: 0,
          initMsMedian: Number.NaN,
          initMsSourceMapsMedian: Number.NaN,
          minifiedBytesDefaultCredentials: 0,
          largest: [],
          error: error instanceof Error ? error.message.split("\n")[0] : String(error),
        };
      }
    }
    const times = new Map(built.map((name) => [name, { maps: [] as number[], plain: [] as number[] }]));
    for (let run = 0; run < processes; run++) {
      if (!floor.error) {
        try {
          floorInits.push(await initMs(floorFile, false));
        } catch (error) {
          floor.error = `load failed: ${error instanceof Error ? error.message.split("\n")[0] : error}`;
        }
      }
      for (const name of built) {
        const file = join(dir, name, "index.mjs");
        const bucket = times.get(name);
        try {
          bucket?.plain.push(await initMs(file, false));
          // With source maps only for comparison, so half as many processes.
          if (run % 2 === 0) bucket?.maps.push(await initMs(file, true));
        } catch (error) {
          const result = results[name];
          if (result) result.error = `load failed: ${error instanceof Error ? error.message.split("\n")[0] : error}`;
        }
      }
    }
    for (const [name, { maps, plain }] of times) {
      const result = results[name];
      if (!result) continue;
      result.initMsMedian = median(plain);
      result.initMsSourceMapsMedian = median(maps);
    }
    floor.initMsMedian = median(floorInits);
    return { bundles: results, floor };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
