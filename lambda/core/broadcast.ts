import { jitteredDelay, sleep } from "./backoff.ts";
import type { ConnectionStore, Member } from "./connection-store.ts";
import { limits } from "./limits.ts";
import { type CoreLogger, silentLogger } from "./logger.ts";
import type { Poster } from "./poster.ts";

/** What a broadcast did: each member is counted once, in exactly one of delivered, gone or failed. */
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

/** Network errors raised before a request reached API Gateway: posting again cannot deliver twice. */
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * Whether a failed post should be made again: API Gateway refused it for now (429: throttled, or the client's buffer
 * full) or failed on its side (5xx), or it never left this machine (a refused connection, or a kept-alive socket the
 * server had closed as the post reused it: the poster marks those `notSent`). A post that got no answer (a timeout, a reset
 * connection) may have been delivered, and posting again would deliver it twice: it is counted as failed instead.
 */
export function isRetryable(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { $metadata, code, notSent } = error as {
    $metadata?: { httpStatusCode?: unknown };
    code?: unknown;
    notSent?: unknown;
  };
  const status = $metadata?.httpStatusCode;
  if (typeof status === "number") return status === 429 || status >= 500;
  // The poster's mark for a reset of a reused keep-alive socket before any answer: the request never left.
  if (notSent === true) return true;
  return typeof code === "string" && NOT_SENT.has(code);
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

/**
 * Posts `data` to each of `members` with a bounded number of posts in flight. A 410 marks that member stale, and
 * stale members are removed in batches afterwards, except one that joined so recently it may still be inside its
 * `$connect` (where API Gateway answers 410 for a connection that is about to be live). Posts that fail for a passing
 * reason (429, 5xx, network) get further rounds after a jittered pause, beyond the SDK's own retries; any other
 * failure is counted and logged and never stops the rest.
 */
export async function deliver(
  deps: BroadcastDeps,
  channel: string,
  members: AsyncIterator<Member> | Iterator<Member>,
  data: Uint8Array,
  options: Pick<BroadcastOptions, "concurrency"> = {},
): Promise<BroadcastResult> {
  const logger = deps.logger ?? silentLogger;
  const gone: string[] = [];
  let retry: Member[] = [];
  const result: BroadcastResult = { delivered: 0, gone: 0, connecting: 0, failed: 0, notRemoved: 0 };
  const joiningSince = (deps.now ?? Date.now)() - limits.connectGraceMs;
  const concurrency = Math.max(1, options.concurrency ?? limits.broadcastConcurrency);

  const pass = async (walk: AsyncIterator<Member> | Iterator<Member>, lastRound: boolean): Promise<void> => {
    const worker = async (): Promise<void> => {
      // Async generators queue concurrent next() calls, so workers share one walk over the pages.
      for (let next = await walk.next(); !next.done; next = await walk.next()) {
        const member = next.value;
        const outcome = await deps.poster.post(member.connectionId, data);
        if (outcome.status === "delivered") result.delivered++;
        else if (outcome.status === "gone") {
          if (member.connectedAt !== undefined && member.connectedAt > joiningSince) result.connecting++;
          else gone.push(member.connectionId);
        } else if (!lastRound && isRetryable(outcome.error)) retry.push(member);
        else {
          result.failed++;
          logger.warn("post to connection failed", {
            connectionId: member.connectionId,
            channel,
            error: outcome.error,
          });
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
    await (deps.sleep ?? sleep)(jitteredDelay(round, limits.broadcastRetryBackoffMs));
    await pass(again[Symbol.iterator](), round === rounds);
  }

  result.gone = gone.length;
  if (gone.length > 0) {
    // Every post has been made: a failure to clean up must not turn the broadcast into an error.
    const left = await deps.connections.removeMany(gone).catch((error: unknown) => {
      logger.warn("removing stale connections failed", { channel, error });
      return gone;
    });
    result.notRemoved = left.length;
    if (left.length > 0) logger.warn("stale connections not removed", { channel, connectionIds: left });
  }
  return result;
}
