import { ConformanceError, within } from "./conformance-error.ts";
import {
  createContext,
  DEFAULT_TIMEOUT_MS,
  type DeploymentConfig,
  newRunId,
  type RunOptions,
  type ScenarioContext,
} from "./context.ts";

/** One check of the protocol against a deployment, named as a sentence; independent of every other. */
export interface Scenario {
  readonly name: string;
  /** Needs guest sessions: skipped in OIDC mode, where a session needs an ID token from the issuer. */
  readonly needsGuestSession: boolean;
  /** Runs only in that auth mode (and is left out of the others' reports). Default: every mode. */
  readonly onlyInMode?: "oidc";
  /** Bound of the whole scenario, over its single waits. Default: 60 s. */
  readonly timeoutMs?: number;
  run(context: ScenarioContext): Promise<void>;
}

/** What the protocol says of something the suite cannot provoke from outside: reported as skipped, with why. */
export interface Unprovokable {
  readonly name: string;
  readonly reason: string;
}

/** The outcome of one scenario. */
export type ScenarioResult = {
  readonly name: string;
  readonly durationMs: number;
  readonly notes: readonly string[];
} & (
  | { readonly status: "passed" }
  | { readonly status: "failed"; readonly message: string; readonly expected?: string; readonly received?: string }
  | { readonly status: "skipped"; readonly reason: string }
);

const SKIP_OIDC = "needs a session, and in OIDC mode a session needs an ID token from the issuer (guest mode only)";

/** Whether a scenario belongs in a run against `config` at all. */
export const appliesTo = (scenario: Scenario, config: DeploymentConfig): boolean =>
  !scenario.onlyInMode || scenario.onlyInMode === config.auth.mode;

/**
 * Runs one scenario with a fresh context: fails it on any error, timeout or server frame off the schema, and closes
 * every socket it opened whatever happened.
 */
export async function runScenario(
  scenario: Scenario,
  config: DeploymentConfig,
  index: number,
  options: RunOptions = {},
): Promise<ScenarioResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  if (scenario.needsGuestSession && config.auth.mode !== "guest") {
    return { name: scenario.name, status: "skipped", reason: SKIP_OIDC, durationMs: 0, notes: [] };
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const context = createContext(config, index, { ...options, runId: options.runId ?? newRunId(), timeoutMs });
  try {
    await within(scenario.run(context), scenario.timeoutMs ?? 60_000, "the scenario to finish");
    const violation = context.sockets.flatMap((socket) => socket.violations)[0];
    if (violation)
      throw new ConformanceError("a server frame broke the protocol", "frames as in PROTOCOL §5", violation);
    return { name: scenario.name, status: "passed", durationMs: elapsed(), notes: context.notes };
  } catch (error) {
    const failure =
      error instanceof ConformanceError
        ? { message: error.message, expected: error.expected, received: error.received }
        : { message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
    // A frame off the schema is often why the awaited frame never came: say so beside the failure, a few of them.
    const violations = context.sockets.flatMap((socket) => socket.violations).filter((v) => v !== failure.received);
    for (const violation of violations.slice(0, 3)) context.note(violation);
    if (violations.length > 3) context.note(`… and ${violations.length - 3} more frames off the schema`);
    return { name: scenario.name, status: "failed", durationMs: elapsed(), notes: context.notes, ...failure };
  } finally {
    await context.dispose();
  }
}

/** Runs the scenarios one after another (each on its own names and channels), reporting each as it ends. */
export async function runScenarios(
  scenarios: readonly Scenario[],
  config: DeploymentConfig,
  options: RunOptions = {},
  onResult: (result: ScenarioResult) => void = () => {},
): Promise<ScenarioResult[]> {
  const runId = options.runId ?? newRunId();
  const results: ScenarioResult[] = [];
  for (const [index, scenario] of scenarios.entries()) {
    if (!appliesTo(scenario, config)) continue;
    const result = await runScenario(scenario, config, index + 1, { ...options, runId });
    results.push(result);
    onResult(result);
  }
  return results;
}
