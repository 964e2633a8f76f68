import type { ScenarioResult, Unprovokable } from "./scenario.ts";

/** `850 ms`, `4.2 s`. */
export const duration = (ms: number): string => (ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1_000).toFixed(1)} s`);

/** The report's lines for one scenario: a ✓/✗/- line, then on failure what was expected and received, then notes. */
export function formatResult(result: ScenarioResult): string[] {
  const notes = result.notes.map((note) => `    note: ${note}`);
  switch (result.status) {
    case "passed":
      return [`✓ ${result.name} (${duration(result.durationMs)})`, ...notes];
    case "skipped":
      return [`- ${result.name} (skipped: ${result.reason})`, ...notes];
    case "failed":
      return [
        `✗ ${result.name} (${duration(result.durationMs)})`,
        `    ${result.message}`,
        ...(result.expected !== undefined ? [`    expected: ${result.expected}`] : []),
        ...(result.received !== undefined ? [`    received: ${result.received}`] : []),
        ...notes,
      ];
  }
}

/** A skipped line for what cannot be provoked from outside. */
export const formatUnprovokable = (item: Unprovokable): string => `- ${item.name} (skipped: ${item.reason})`;

/** The counts of a run. */
export function tally(results: readonly ScenarioResult[], unprovokable: readonly Unprovokable[] = []) {
  const count = (status: ScenarioResult["status"]) => results.filter((result) => result.status === status).length;
  return { passed: count("passed"), failed: count("failed"), skipped: count("skipped") + unprovokable.length };
}

/** The closing lines: exactly `N passed, N failed` on its own line, then the skipped count and the run time. */
export function formatSummary(
  results: readonly ScenarioResult[],
  unprovokable: readonly Unprovokable[],
  elapsedMs: number,
): string[] {
  const { passed, failed, skipped } = tally(results, unprovokable);
  return ["", `${passed} passed, ${failed} failed`, `${skipped} skipped, ran in ${duration(elapsedMs)}`];
}
