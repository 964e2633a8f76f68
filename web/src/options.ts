/** Timings of the client, which tests shorten. */
export interface PageOptions {
  /** Keep-alive interval. Default 5 minutes: API Gateway drops a connection idle for 10. */
  readonly pingMs: number;
  /** Upper bound of the first reconnect delay. Default 1 second. */
  readonly backoffBaseMs: number;
  /** Longest reconnect delay. Default 30 seconds. */
  readonly backoffMaxMs: number;
}

/** The timings of a page opened without overrides. */
export const defaultOptions: PageOptions = { pingMs: 5 * 60_000, backoffBaseMs: 1_000, backoffMaxMs: 30_000 };

const KEYS = ["pingMs", "backoffBaseMs", "backoffMaxMs"] as const;

/** A whole number of milliseconds of at least 1, or `undefined`. */
function milliseconds(value: unknown): number | undefined {
  const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof number === "number" && Number.isInteger(number) && number >= 1 ? number : undefined;
}

/**
 * The timings for this page: the defaults, overridden by a `window.wschatOptions` object (set before the page's
 * script runs, e.g. by a test's init script) and then by URL parameters of the same names (`?pingMs=500`). Values
 * that are not positive whole numbers are ignored.
 */
export function readOptions(params: URLSearchParams, global: unknown): PageOptions {
  const options: Record<(typeof KEYS)[number], number> = { ...defaultOptions };
  const fromGlobal = global !== null && typeof global === "object" ? (global as Record<string, unknown>) : {};
  for (const key of KEYS) {
    options[key] = milliseconds(params.get(key) ?? undefined) ?? milliseconds(fromGlobal[key]) ?? options[key];
  }
  return options;
}
