import type { CoreLogger } from "../lambda/core/logger.ts";

const LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
/** How much the local stack prints. */
export type LogLevel = (typeof LEVELS)[number];

const describe = (value: unknown): unknown => (value instanceof Error ? `${value.name}: ${value.message}` : value);

/** One line per entry on stderr, for people watching `npm start`: time, level, message, then the details as JSON. */
export function consoleLogger(level: LogLevel = "info"): CoreLogger {
  const threshold = LEVELS.indexOf(level);
  const log =
    (at: LogLevel) =>
    (message: string, ...extra: Record<string, unknown>[]) => {
      if (LEVELS.indexOf(at) < threshold) return;
      const details = Object.assign({}, ...extra);
      const text = Object.keys(details).length > 0 ? ` ${JSON.stringify(details, (_, value) => describe(value))}` : "";
      process.stderr.write(`${new Date().toISOString()} ${at.padEnd(5)} ${message}${text}\n`);
    };
  return { info: log("info"), warn: log("warn"), error: log("error") };
}

/** Reads a log level name; unknown names fall back to `info`. */
export const logLevel = (name: string | undefined): LogLevel =>
  (LEVELS as readonly string[]).includes(name ?? "") ? (name as LogLevel) : "info";
