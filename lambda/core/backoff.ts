/** Waits `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** "Full jitter" exponential backoff: a random delay up to base × 2^attempt. */
export const jitteredDelay = (attempt: number, baseMs: number, random: () => number = Math.random): number =>
  Math.floor(random() * baseMs * 2 ** attempt);
