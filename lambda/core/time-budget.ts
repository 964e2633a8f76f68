/** How long an invocation may still spend posting, in milliseconds; it only ever goes down. */
export interface TimeBudget {
  remainingMs(): number;
}

/** The part of Lambda's context object a budget is read from. */
export interface InvocationClock {
  getRemainingTimeInMillis(): number;
}

/**
 * Kept free at the end of a broadcast worker's invocation once it stops starting posts: the posts in flight end by
 * then (their timeout is cut to fit), and what follows them has this long: first queueing the members not posted to,
 * then removing stale members within what is left before {@link CLEANUP_RESERVE_MS}, then answering SQS.
 */
export const WORKER_RESERVE_MS = 5_000;

/**
 * Kept free at the very end of a broadcast worker's invocation by its cleanup (removing stale members, their
 * departures from presence): a cleanup step starts only while more than this is left, so the step in flight and the
 * answer to SQS end before Lambda's timeout. What is not reached is skipped: those members answer 410 again next time.
 */
export const CLEANUP_RESERVE_MS = 2_000;

/**
 * A post is started only while at least this long is left before the reserve. Its timeout is then the time left, so
 * it never runs past the reserve; a window this long makes a timeout (a post that may or may not have arrived) rare.
 */
export const POST_MIN_WINDOW_MS = 3_000;

/** The budget of an invocation: its remaining time less `reserveMs`. */
export const invocationBudget = (clock: InvocationClock, reserveMs = WORKER_RESERVE_MS): TimeBudget => ({
  remainingMs: () => clock.getRemainingTimeInMillis() - reserveMs,
});

/**
 * How long the next post may take: `undefined` without a budget (the poster's own timeout), 0 when too little is left
 * to start one, else all that is left.
 */
export function postWindow(budget: TimeBudget | undefined): number | undefined {
  if (!budget) return undefined;
  const left = budget.remainingMs();
  return left < POST_MIN_WINDOW_MS ? 0 : left;
}
