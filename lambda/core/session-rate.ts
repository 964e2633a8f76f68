import { limits } from "./limits.ts";
import type { RateDecision, RateRule } from "./rate-store.ts";

/** A fixed-window counter: takes one unit under `key` (`RateStore.take`). */
export type TakeSlot = (key: string, rule: RateRule) => Promise<RateDecision>;

/** Whether one more session may be issued to `sourceIp` now. */
export type SessionRate = (sourceIp: string) => Promise<RateDecision>;

/** New sessions per source IP per minute unless the deployment says otherwise (PROTOCOL "Names and limits"). */
export const SESSION_RATE_PER_MINUTE = limits.sessionsPerMinute;

/** The window the session rate is counted in. */
export const SESSION_RATE_WINDOW_MS = limits.sessionRateWindowMs;

/** The session rate over a fixed-window counter, one counter per source IP (`session#{ip}`). */
export function sessionRate(take: TakeSlot, perMinute: number = SESSION_RATE_PER_MINUTE): SessionRate {
  const rule = { max: perMinute, windowMs: SESSION_RATE_WINDOW_MS };
  if (!Number.isInteger(perMinute) || perMinute < 1)
    throw new RangeError("the session rate must be a positive integer");
  return (sourceIp) => take(`session#${sourceIp}`, rule);
}

export type { RateDecision };
