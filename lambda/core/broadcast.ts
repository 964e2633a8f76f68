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
}

/** What a broadcast needs. */
export interface BroadcastDeps {
  readonly connections: Pick<ConnectionStore, "memberPages" | "removeMany">;
  readonly poster: Poster;
  readonly logger?: CoreLogger;
  /** Epoch milliseconds. Default: `Date.now`. */
  readonly now?: () => number;
}

/** Options of one broadcast. */
export interface BroadcastOptions {
  /** A connection not to post to (the one still in its `$connect`). */
  readonly exclude?: string;
  /** Posts in flight at once. Default: `limits.broadcastConcurrency`. */
  readonly concurrency?: number;
}

async function* eachMember(pages: AsyncIterable<Member[]>, exclude: string | undefined): AsyncGenerator<Member> {
  for await (const page of pages) {
    for (const member of page) if (member.connectionId !== exclude) yield member;
  }
}

/**
 * Posts one frame to every member of a channel, reading the channel index page by page with a bounded number of
 * posts in flight. A 410 marks that member stale, and stale members are removed in batches afterwards, except one
 * that joined so recently it may still be inside its `$connect` (where API Gateway answers 410 for a connection that
 * is about to be live). Any other failure is counted and logged and never stops the rest.
 */
export async function broadcast(
  deps: BroadcastDeps,
  channel: string,
  frame: unknown,
  options: BroadcastOptions = {},
): Promise<BroadcastResult> {
  const logger = deps.logger ?? silentLogger;
  const data = Buffer.from(JSON.stringify(frame));
  const members = eachMember(deps.connections.memberPages(channel), options.exclude);
  const gone: string[] = [];
  const result: BroadcastResult = { delivered: 0, gone: 0, connecting: 0, failed: 0, notRemoved: 0 };
  const joiningSince = (deps.now ?? Date.now)() - limits.connectGraceMs;

  const worker = async (): Promise<void> => {
    // Async generators queue concurrent next() calls, so workers share one walk over the pages.
    for (let next = await members.next(); !next.done; next = await members.next()) {
      const { connectionId, connectedAt } = next.value;
      const outcome = await deps.poster.post(connectionId, data);
      if (outcome.status === "delivered") result.delivered++;
      else if (outcome.status === "gone") {
        if (connectedAt !== undefined && connectedAt > joiningSince) result.connecting++;
        else gone.push(connectionId);
      } else {
        result.failed++;
        logger.warn("post to connection failed", { connectionId, channel, error: outcome.error });
      }
    }
  };
  const concurrency = Math.max(1, options.concurrency ?? limits.broadcastConcurrency);
  await Promise.all(Array.from({ length: concurrency }, worker));

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
