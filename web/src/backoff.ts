/** Bounds of the reconnect backoff. */
export interface BackoffOptions {
  /** Upper bound of the first delay. */
  readonly baseMs: number;
  /** No delay exceeds this, however many attempts failed. */
  readonly maxMs: number;
}

/**
 * "Full jitter" exponential backoff: a random delay between 0 and min(max, base × 2^attempt). The jitter spreads the
 * reconnects of every tab that API Gateway cut at the same moment (the 2-hour limit, a deploy) over the window.
 */
export function backoffDelay(attempt: number, { baseMs, maxMs }: BackoffOptions, random = Math.random): number {
  // Capping the exponent first keeps 2 ** attempt finite however long the page keeps failing.
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.floor(random() * ceiling);
}
