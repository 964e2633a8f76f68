/** The outcome of taking one slot of a fixed-window counter. */
export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

/** A fixed-window counter: takes one slot under `key`, at most `max` per window of `windowMs` (the rate store's shape). */
export type TakeSlot = (
  key: string,
  options: { readonly max: number; readonly windowMs: number; readonly now: number },
) => Promise<RateDecision>;

/** Whether one more session may be issued to `sourceIp` at `nowMs`. */
export type SessionRate = (sourceIp: string, nowMs: number) => Promise<RateDecision>;

/** New sessions per source IP per minute unless the deployment says otherwise (PROTOCOL "Names and limits"). */
export const SESSION_RATE_PER_MINUTE = 60;

/** The window the session rate is counted in. */
export const SESSION_RATE_WINDOW_MS = 60_000;

/** The session rate over a fixed-window counter, one counter per source IP (`session#{ip}`). */
export function sessionRate(take: TakeSlot, perMinute: number = SESSION_RATE_PER_MINUTE): SessionRate {
  if (!Number.isInteger(perMinute) || perMinute < 1)
    throw new RangeError("the session rate must be a positive integer");
  return (sourceIp, now) => take(`session#${sourceIp}`, { max: perMinute, windowMs: SESSION_RATE_WINDOW_MS, now });
}
