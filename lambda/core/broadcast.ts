import { jitteredDelay, sleep } from "./backoff.ts";
import type { ConnectionStore, Member } from "./connection-store.ts";
import { limits } from "./limits.ts";
import { type CoreLogger, silentLogger } from "./logger.ts";
import { FAILURE_SAMPLE_IDS, PostFailures } from "./post-failures.ts";
import { isRetryable, type Poster } from "./post-outcome.ts";
import { POST_MIN_WINDOW_MS, postWindow, type TimeBudget } from "./time-budget.ts";

/** What a broadcast did: each member is counted once, in exactly one of delivered, gone, connecting, failed, deferred. */
export interface BroadcastResult {
  delivered: number;
  /** Members that answered 410 Gone and were removed (or queued for removal). */
  gone: number;
  /** Members that answered 410 while still inside their own `$connect`: not stale, so kept. */
  connecting: number;
  failed: number;
  /** Gone members whose removal did not go through; they will answer 410 again next time. */
  notRemoved: number;
  /** Members handed to broadcast workers instead (a large channel, sharded); they report their own results. */
  queued?: number;
  /** Segments those members were split into. */
  segments?: number;
  /**
   * Members a broadcast worker did not post to before its invocation's time ran out: handed on in a new segment (or,
   * when nothing was posted, left to SQS to deliver again), so each still gets the frame exactly once.
   */
  deferred?: number;
}

/** What a broadcast needs. */
export interface BroadcastDeps {
  readonly connections: Pick<ConnectionStore, "memberPages" | "removeMany">;
  readonly poster: Poster;
  readonly logger?: CoreLogger;
  /** Epoch milliseconds. Default: `Date.now`. */
  readonly now?: () => number;
  /** Waits between retry rounds. Default: a real timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * Told about the members found gone (410) once their records are removed, so they leave the channel's presence as
   * a `$disconnect` would have made them; a failure there is logged and never fails the broadcast.
   */
  readonly onGone?: (channel: string, members: Member[]) => Promise<void>;
}

/** Options of one broadcast. */
export interface BroadcastOptions {
  /** A connection not to post to (the one still in its `$connect`). */
  readonly exclude?: string;
  /** Posts in flight at once. Default: `limits.broadcastConcurrency`. */
  readonly concurrency?: number;
  /** The channel's members, page by page, when the caller has begun reading them. Default: read from the index. */
  readonly pages?: AsyncIterable<Member[]>;
}

/** The members of a channel's pages, one by one, without `exclude`. */
export async function* eachMember(pages: AsyncIterable<Member[]>, exclude: string | undefined): AsyncGenerator<Member> {
  for await (const page of pages) {
    for (const member of page) if (member.connectionId !== exclude) yield member;
  }
}

/**
 * Posts one frame to every member of a channel, reading the channel index page by page with a bounded number of
 * posts in flight (see {@link deliver}).
 */
export function broadcast(
  deps: BroadcastDeps,
  channel: string,
  frame: unknown,
  options: BroadcastOptions = {},
): Promise<BroadcastResult> {
  const members = eachMember(options.pages ?? deps.connections.memberPages(channel), options.exclude);
  return deliver(deps, channel, members, Buffer.from(JSON.stringify(frame)), options);
}

/** Options of {@link deliverWithin}. */
export interface DeliverOptions extends Pick<BroadcastOptions, "concurrency"> {
  /**
   * The time left for posting (a broadcast worker's invocation). Without it there is no limit beyond the poster's
   * own timeout.
   */
  readonly budget?: TimeBudget;
}

/** What {@link deliverWithin} did, and the members it did not post to because the budget ran out. */
export interface Delivery {
  readonly result: BroadcastResult;
  /** Members never posted to, or whose posts failed for a passing reason and were not made again: none got `data`. */
  readonly unsent: Member[];
  /** Posts made, whatever their outcome: none means no member can have got `data`. */
  readonly posts: number;
  /** Members that answered 410 and are stale: still to be removed (see {@link removeGone}). */
  readonly gone: Member[];
}

/**
 * Posts `data` to each of `members` with a bounded number of posts in flight (see {@link deliverWithin}); without a
 * budget every member is posted to.
 */
export async function deliver(
  deps: BroadcastDeps,
  channel: string,
  members: AsyncIterator<Member> | Iterator<Member>,
  data: Uint8Array,
  options: Pick<BroadcastOptions, "concurrency"> = {},
): Promise<BroadcastResult> {
  const { result, gone } = await deliverWithin(deps, channel, members, data, options);
  const { notRemoved, removed } = await removeGone(deps, channel, gone);
  result.notRemoved = notRemoved;
  if (removed.length > 0 && deps.onGone) {
    await deps.onGone(channel, removed).catch((error: unknown) => {
      deps.logger?.warn("presence of stale connections not updated", { channel, count: removed.length, error });
    });
  }
  return result;
}

/**
 * Posts `data` to each of `members` with a bounded number of posts in flight. A 410 marks that member stale (to be
 * removed by the caller, see {@link removeGone}: a worker first hands on what it had no time for), except one that joined so recently it may still be inside its
 * `$connect` (where API Gateway answers 410 for a connection that is about to be live). Posts that fail for a passing
 * reason (429, 5xx, network) get further rounds after a jittered pause, beyond the SDK's own retries; any other
 * failure is counted and never stops the rest. Failures are logged once, counted by error with a few sample ids.
 * With a budget, no post starts once too little time is left, and each post's timeout ends within the budget: the
 * members not posted to come back as `unsent` (and are counted `deferred`).
 */
export async function deliverWithin(
  deps: BroadcastDeps,
  channel: string,
  members: AsyncIterator<Member> | Iterator<Member>,
  data: Uint8Array,
  options: DeliverOptions = {},
): Promise<Delivery> {
  const logger = deps.logger ?? silentLogger;
  const { budget } = options;
  const gone: Member[] = [];
  const unsent: Member[] = [];
  const failures = new PostFailures();
  let retry: Member[] = [];
  let posts = 0;
  const result: BroadcastResult = { delivered: 0, gone: 0, connecting: 0, failed: 0, notRemoved: 0 };
  const joiningSince = (deps.now ?? Date.now)() - limits.connectGraceMs;
  const concurrency = Math.max(1, options.concurrency ?? limits.broadcastConcurrency);

  const pass = async (walk: AsyncIterator<Member> | Iterator<Member>, lastRound: boolean): Promise<void> => {
    const worker = async (): Promise<void> => {
      // Async generators queue concurrent next() calls, so workers share one walk over the pages.
      for (let next = await walk.next(); !next.done; next = await walk.next()) {
        const member = next.value;
        const window = postWindow(budget);
        if (window === 0) {
          unsent.push(member);
          continue;
        }
        posts++;
        const outcome = await deps.poster.post(
          member.connectionId,
          data,
          window === undefined ? undefined : { timeoutMs: window },
        );
        if (outcome.status === "delivered") result.delivered++;
        else if (outcome.status === "gone") {
          if (member.connectedAt !== undefined && member.connectedAt > joiningSince) result.connecting++;
          else gone.push(member);
        } else if (!lastRound && isRetryable(outcome.error)) retry.push(member);
        else {
          result.failed++;
          failures.add(member.connectionId, outcome.error);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  };

  const rounds: number = limits.broadcastRetryRounds;
  await pass(members, rounds === 0);
  for (let round = 1; round <= rounds && retry.length > 0; round++) {
    const again = retry;
    retry = [];
    const pause = jitteredDelay(round, limits.broadcastRetryBackoffMs);
    // A pause that would leave no time to post again: those members are handed on instead.
    if (budget && budget.remainingMs() - pause < POST_MIN_WINDOW_MS) {
      unsent.push(...again);
      break;
    }
    await (deps.sleep ?? sleep)(pause);
    await pass(again[Symbol.iterator](), round === rounds);
  }

  if (failures.count > 0) {
    logger.warn("posts to connections failed", { channel, failed: failures.count, errors: failures.summary() });
  }
  if (unsent.length > 0) result.deferred = unsent.length;
  result.gone = gone.length;
  return { result, unsent, posts, gone };
}

/** What {@link removeGone} did. */
export interface Removal {
  /** Stale members whose records are gone: they may leave the channel's presence. */
  readonly removed: Member[];
  /** Stale members still recorded (a failed write, or no time left): they answer 410 again next time. */
  readonly notRemoved: number;
}

/**
 * Removes the stale members a delivery found, in batches (`ConnectionStore.removeMany`). A failure is logged and
 * counted, never thrown: every post has been made, so cleaning up must not turn the broadcast into an error. With a
 * budget, a batch starts only while time is left, and the members not reached are counted `notRemoved` and logged
 * once: left alone, they simply answer 410 again next time.
 */
export async function removeGone(
  deps: Pick<BroadcastDeps, "connections" | "logger">,
  channel: string,
  gone: readonly Member[],
  options: { readonly budget?: TimeBudget } = {},
): Promise<Removal> {
  const logger = deps.logger ?? silentLogger;
  const { budget } = options;
  const left: string[] = [];
  let skipped = 0;
  // Without a budget one call removes them all; with one, a batch at a time so no batch starts after the time ends.
  const step = budget ? limits.batchWriteSize : Math.max(1, gone.length);
  for (let start = 0; start < gone.length; start += step) {
    if (budget && budget.remainingMs() <= 0) {
      skipped = gone.length - start;
      break;
    }
    const ids = gone.slice(start, start + step).map((member) => member.connectionId);
    left.push(
      ...(await deps.connections.removeMany(ids).catch((error: unknown) => {
        logger.warn("removing stale connections failed", { channel, count: ids.length, error });
        return ids;
      })),
    );
  }
  if (left.length > 0) {
    logger.warn("stale connections not removed", {
      channel,
      count: left.length,
      connectionIds: left.slice(0, FAILURE_SAMPLE_IDS),
    });
  }
  if (skipped > 0)
    logger.warn("stale connections left for next time: no time to remove them", { channel, count: skipped });
  const notRemoved = new Set(left);
  const removed = gone.slice(0, gone.length - skipped).filter((member) => !notRemoved.has(member.connectionId));
  return { removed, notRemoved: left.length + skipped };
}
