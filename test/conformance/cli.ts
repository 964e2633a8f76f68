import { realpathSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_TIMEOUT_MS } from "./context.ts";
import { loadConfig, NotTheChatError } from "./load-config.ts";
import { formatResult, formatSummary, formatUnprovokable } from "./report.ts";
import { appliesTo, runScenarios } from "./scenario.ts";
import { notProvokable, scenarios } from "./scenarios.ts";

const USAGE = `Usage: npm run test:deployed -- <site URL> [--only <words>] [--timeout <ms>]

Runs the chat protocol's conformance scenarios against a deployment: reads {site URL}/config.json, then opens real
WebSocket connections and session requests with unique conf-… names (about 40 session requests a run: a deployment
allows 60 a minute from one address, so wait a minute between two runs). Exits 0 when every scenario passes.
  --only <words>   run only the scenarios whose name contains these words (case-insensitive)
  --timeout <ms>   bound of each single wait (default ${DEFAULT_TIMEOUT_MS})`;

/** Where the CLI writes: the process's streams, or a test's buffers. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

const processOutput: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** The CLI: returns the exit code (0 all passed, 1 a scenario failed, 2 not the chat or bad arguments). */
export async function main(argv: readonly string[], output: Output = processOutput): Promise<number> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (error) {
    output.err(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.help) {
    output.out(USAGE);
    return 0;
  }
  let config: Awaited<ReturnType<typeof loadConfig>>;
  try {
    config = await loadConfig(parsed.site, parsed.timeoutMs);
  } catch (error) {
    if (!(error instanceof NotTheChatError)) throw error;
    output.err(`Not the chat: ${error.message}`);
    return 2;
  }
  const only = parsed.only?.toLowerCase();
  const chosen = scenarios.filter((scenario) => !only || scenario.name.toLowerCase().includes(only));
  if (chosen.length === 0) {
    output.err(`No scenario's name contains "${parsed.only}".`);
    return 2;
  }
  const unprovokable = only ? [] : notProvokable;
  const count = chosen.filter((scenario) => appliesTo(scenario, config)).length;
  output.out(`Conformance of ${config.siteUrl} (${config.auth.mode} mode): ${count} scenario${count === 1 ? "" : "s"}`);
  output.out(`  WebSocket ${config.wsUrl}, session ${config.sessionUrl}\n`);
  const started = performance.now();
  const results = await runScenarios(chosen, config, { timeoutMs: parsed.timeoutMs }, (result) => {
    for (const line of formatResult(result)) output.out(line);
  });
  for (const item of unprovokable) output.out(formatUnprovokable(item));
  for (const line of formatSummary(results, unprovokable, performance.now() - started)) output.out(line);
  return results.some((result) => result.status === "failed") ? 1 : 0;
}

function parseOptions(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { only: { type: "string" }, timeout: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  const timeoutMs = Number(values.timeout ?? DEFAULT_TIMEOUT_MS);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
    throw new Error(`--timeout takes milliseconds, got ${values.timeout}`);
  if (values.help) return { help: true, site: "", timeoutMs, only: values.only };
  if (positionals.length !== 1)
    throw new Error("Give exactly one site URL (the chat's page, which serves /config.json).");
  return { help: false, site: positionals[0] as string, timeoutMs, only: values.only };
}

/** Whether this module is the program (`tsx test/conformance/cli.ts …`) rather than imported by a test. */
const isEntry = (() => {
  try {
    return realpathSync(process.argv[1] ?? "") === realpathSync(new URL(import.meta.url));
  } catch {
    return false;
  }
})();

if (isEntry) {
  // Exit at once: the fetch client's kept-alive sockets would otherwise hold the process open a few seconds.
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`The conformance run failed: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(2);
    },
  );
}
