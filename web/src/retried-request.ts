import { limits } from "../../lambda/core/limits.ts";

/** A request left this long without an answer (no answer, no error frame) counts as refused. */
export const ANSWER_MS = 10_000;
/** Refused (or left unanswered) this many times more in a row, a request is given up. */
export const RETRIES = 5;

/** The clock and the dice, for tests. */
export interface RetryTiming {
  readonly now?: () => number;
  readonly random?: () => number;
}

/**
 * How long to wait before asking again: into the next rate window (fixed windows aligned to the epoch, PROTOCOL's
 * table), by the page's clock, and up to a second more so that a user's tabs refused together do not ask together.
 */
export function nextWindowDelay(now: number, random: () => number): number {
  const window = limits.rateWindowMs;
  return window - (now % window) + 250 + Math.floor(random() * 1_000);
}

/** What a {@link RetriedRequest} needs: a way to send it (`false` when no connection is open), and what to do at the end. */
export interface RetryHooks {
  send(): boolean;
  /** Refused or unanswered {@link RETRIES} more times in a row after the first: not asked again. */
  gaveUp(): void;
}

/**
 * One request the page makes on its own (a history page, `who`, a conversation's check), not one the user typed. Error
 * frames do not say what they answer (PROTOCOL §5), so such a request still unanswered when an error frame comes that
 * nothing else claims takes it as maybe its own: it asks again in the next rate window, unless its answer comes first.
 * One left unanswered {@link ANSWER_MS} asks again too; after {@link RETRIES} retries in a row it is given up.
 */
export class RetriedRequest {
  readonly #hooks: RetryHooks;
  readonly #now: () => number;
  readonly #random: () => number;
  #state: "idle" | "sent" | "waiting" = "idle";
  #retries = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(hooks: RetryHooks, timing: RetryTiming = {}) {
    this.#hooks = hooks;
    this.#now = timing.now ?? Date.now;
    this.#random = timing.random ?? Math.random;
  }

  /** Whether it is asked and not answered yet: on the wire, or waiting to go again. */
  get pending(): boolean {
    return this.#state !== "idle";
  }

  /** Sends it afresh (no retries counted); `false` when it could not go. */
  start(): boolean {
    this.stop();
    this.#retries = 0;
    return this.#send();
  }

  /** Its answer came. */
  answered(): void {
    this.stop();
  }

  /** An error frame nothing else claimed: if this is on the wire, the refusal may be its own. */
  refused(): void {
    if (this.#state !== "sent") return;
    clearTimeout(this.#timer);
    if (this.#retries++ >= RETRIES) {
      this.#state = "idle";
      this.#hooks.gaveUp();
      return;
    }
    this.#state = "waiting";
    this.#timer = setTimeout(() => this.#send(), nextWindowDelay(this.#now(), this.#random));
  }

  /** Not wanted any more (another channel, a new connection). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#state = "idle";
  }

  #send(): boolean {
    if (!this.#hooks.send()) {
      // No connection: the next one asks afresh.
      this.#state = "idle";
      return false;
    }
    this.#state = "sent";
    this.#timer = setTimeout(() => this.refused(), ANSWER_MS);
    return true;
  }
}
