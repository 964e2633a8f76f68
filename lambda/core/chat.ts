import { randomUUID } from "node:crypto";
import type { BroadcastResult } from "./broadcast.ts";
import { type ClientRequest, type FrameRefusal, type HistoryPosition, parseClientFrame } from "./client-frames.ts";
import type { ConnectionRecord, ConnectionStore, Member } from "./connection-store.ts";
import { encodeFrame, HistoryPageBudget } from "./frame-size.ts";
import type { HistoryStore } from "./history-store.ts";
import { limits } from "./limits.ts";
import { type CoreLogger, silentLogger } from "./logger.ts";
import { compareCodePoints } from "./names.ts";
import type { Poster } from "./poster.ts";
import { isPayloadTooLarge, ReplyTooLargeError } from "./reply-size.ts";
import {
  errorFrame,
  historyFrame,
  type MessageFrame,
  pongFrame,
  presenceFrame,
  type ServerFrame,
  systemFrame,
} from "./server-frames.ts";
import { fanOut, type SegmentQueue } from "./sharded-fanout.ts";

/** Everything the chat needs, handed in by the Lambda entries, the local stack or a test. */
export interface ChatDeps {
  readonly connections: ConnectionStore;
  /** The channels' messages, which also count each connection's rate. */
  readonly history: HistoryStore;
  readonly poster: Poster;
  readonly logger?: CoreLogger;
  /** Epoch milliseconds. Default: `Date.now`. */
  readonly now?: () => number;
  /** Waits between a broadcast's retry rounds. Default: a real timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Message ids. Default: random UUIDs. */
  readonly newId?: () => string;
  /** Posts in flight per broadcast. Default: `limits.broadcastConcurrency`. */
  readonly concurrency?: number;
  /** Where a large channel's segments go; without it every broadcast is posted by the caller. */
  readonly segmentQueue?: SegmentQueue;
  /** Told about every broadcast, e.g. to emit metrics. */
  readonly onBroadcast?: (channel: string, result: BroadcastResult, durationMs: number) => void;
}

/** Who is on a connection, as the authorizer established it. */
export interface Participant {
  connectionId: string;
  username: string;
  channel: string;
}

/** What handling a client frame did, for the handler's log and result. */
export type FrameOutcome =
  | { kind: "broadcast"; messageId: string; result: BroadcastResult }
  | { kind: "replied"; action: ClientRequest["action"] }
  | { kind: "refused"; refusal: FrameRefusal };

const clock = (deps: ChatDeps) => (deps.now ?? Date.now)();

/** A broadcast, timed and reported to `onBroadcast`. */
async function timedFanOut(
  deps: ChatDeps,
  channel: string,
  frame: ServerFrame,
  options: { exclude?: string; pages?: AsyncIterable<Member[]> } = {},
): Promise<BroadcastResult> {
  const started = performance.now();
  const result = await fanOut(deps, channel, frame, { ...options, concurrency: deps.concurrency });
  deps.onBroadcast?.(channel, result, performance.now() - started);
  return result;
}

/** The stored record of a connection made at `connectedAt`, its TTL just over API Gateway's 2-hour cap. */
const connectionRecord = (who: Participant, connectedAt: number): ConnectionRecord => ({
  ...who,
  connectedAt,
  expiresAt: Math.floor(connectedAt / 1000) + limits.connectionTtlSeconds,
});

function announce(deps: ChatDeps, who: Participant, message: string): Promise<BroadcastResult> {
  return timedFanOut(deps, who.channel, systemFrame(who.channel, message, clock(deps)), {
    exclude: who.connectionId,
  });
}

/** The seed's onOpen: stores the connection and tells every *other* member "Lucy connected". */
export async function join(deps: ChatDeps, who: Participant): Promise<BroadcastResult> {
  await deps.connections.put(connectionRecord(who, clock(deps)));
  // Never post to the joining connection here: until $connect returns, API Gateway answers 410 for it.
  return announce(deps, who, `${who.username} connected`);
}

/** The seed's onClose: removes the connection and tells the others "Lucy disconnected". */
export async function leave(deps: ChatDeps, who: Participant): Promise<BroadcastResult> {
  await deps.connections.remove(who.connectionId);
  return announce(deps, who, `${who.username} disconnected`);
}

/**
 * Posts a frame to the sender. A frame over API Gateway's 128 KB is never posted (it would be refused with 413 and
 * the client would get nothing), and a 413 all the same is not a passing failure: both throw
 * {@link ReplyTooLargeError}, which the handler answers with an `internal` error frame.
 */
async function reply(deps: ChatDeps, who: Participant, frame: ServerFrame): Promise<void> {
  const data = encodeFrame(frame);
  if (data.byteLength > limits.serverFrameMaxBytes) throw new ReplyTooLargeError(frame.type, data.byteLength);
  const outcome = await deps.poster.post(who.connectionId, data);
  if (outcome.status === "gone") await deps.connections.remove(who.connectionId);
  else if (outcome.status === "failed" && isPayloadTooLarge(outcome.error)) {
    throw new ReplyTooLargeError(frame.type, data.byteLength, { cause: outcome.error });
  } else if (outcome.status === "failed") {
    (deps.logger ?? silentLogger).warn("reply to sender failed", {
      connectionId: who.connectionId,
      error: outcome.error,
    });
  }
}

async function refuse(deps: ChatDeps, who: Participant, refusal: FrameRefusal): Promise<FrameOutcome> {
  await reply(deps, who, errorFrame(refusal.code, refusal.message));
  return { kind: "refused", refusal };
}

/** The pages of an index read whose first page has been read already. */
async function* resumed(first: IteratorResult<Member[]>, rest: AsyncIterator<Member[]>): AsyncGenerator<Member[]> {
  if (first.done) return;
  yield first.value;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

/**
 * The members of the sender's channel, the sender always among them: when the index did not list it (its record
 * was removed by a stale-removal while it lives, or it connected so recently that the index lags), it is stored again
 * if missing and added at the end. Not counting against the rate, it needs no record to send; the record is for
 * the next broadcasts.
 */
async function* withSender(deps: ChatDeps, who: Participant, now: number, pages: AsyncIterable<Member[]>) {
  let listed = false;
  for await (const page of pages) {
    listed ||= page.some((member) => member.connectionId === who.connectionId);
    yield page;
  }
  if (listed) return;
  const logger = deps.logger ?? silentLogger;
  try {
    if (await deps.connections.restore(connectionRecord(who, now))) {
      logger.warn("sender was not stored; stored it again", { connectionId: who.connectionId });
    }
  } catch (error) {
    // The message is stored and on its way: a failed restore must not fail it. The next message tries again.
    logger.warn("sender was not stored and storing it again failed", { connectionId: who.connectionId, error });
  }
  // No `connectedAt`: the sender is past its $connect, so a 410 from it means gone, and its record goes again.
  yield [{ connectionId: who.connectionId, username: who.username }];
}

/**
 * A chat message: two reads at once (the sender's slots in its rate window, and the channel's first page of
 * members), then the one write that is both the history item and the rate decision, then the fan-out. The fan-out
 * cannot start before that write: until it succeeds the message may be over the rate.
 */
async function sendMessage(deps: ChatDeps, who: Participant, text: string): Promise<FrameOutcome> {
  const timestamp = clock(deps);
  const pages = deps.connections.memberPages(who.channel);
  const [used, first] = await Promise.all([
    deps.history.slotsUsed(who.channel, who.connectionId, timestamp),
    pages.next(),
  ]);
  const frame: MessageFrame = {
    type: "message",
    id: (deps.newId ?? randomUUID)(),
    from: who.username,
    message: text,
    channel: who.channel,
    timestamp,
  };
  if ((await deps.history.appendWithinRate(frame, who.connectionId, used)) === "limited") {
    await pages.return(undefined);
    return refuse(deps, who, {
      code: "rate_limited",
      message: `at most ${limits.rateMaxMessages} messages per ${limits.rateWindowMs / 1000} seconds`,
    });
  }
  const members = withSender(deps, who, timestamp, resumed(first, pages));
  const result = await timedFanOut(deps, who.channel, frame, { pages: members });
  return { kind: "broadcast", messageId: frame.id, result };
}

/**
 * The answer to `who`: the channel's users, unique, sorted by code point, the first `limits.presenceListMax` listed
 * and `count` all of them. Only the names are kept while the index is read, not its records.
 */
async function presence(deps: ChatDeps, channel: string): Promise<ServerFrame> {
  const users = new Set<string>();
  for await (const page of deps.connections.memberPages(channel)) {
    for (const member of page) users.add(member.username);
  }
  const listed = [...users].sort(compareCodePoints).slice(0, limits.presenceListMax);
  return presenceFrame(channel, listed, users.size);
}

/** The answer to `history`: one page that fits a frame (PROTOCOL §4). */
async function historyPage(deps: ChatDeps, channel: string, position: HistoryPosition): Promise<ServerFrame> {
  const page = await deps.history.page(channel, position, new HistoryPageBudget(channel));
  return historyFrame(channel, page.messages, page.more);
}

/** The seed's onMessage, and the rest of PROTOCOL §4: one client frame from a connection. */
export async function handleFrame(deps: ChatDeps, who: Participant, body: string): Promise<FrameOutcome> {
  const parsed = parseClientFrame(body);
  if (!parsed.ok) return refuse(deps, who, parsed.refusal);
  const { request } = parsed;
  switch (request.action) {
    case "send":
      return sendMessage(deps, who, request.message);
    case "ping":
      await reply(deps, who, pongFrame(clock(deps)));
      break;
    case "who":
      await reply(deps, who, await presence(deps, who.channel));
      break;
    case "history":
      await reply(deps, who, await historyPage(deps, who.channel, { before: request.before, after: request.after }));
      break;
  }
  return { kind: "replied", action: request.action };
}

/** Tells the sender that the server failed, without closing its connection. */
export async function replyInternalError(deps: ChatDeps, who: Participant, requestId: string): Promise<void> {
  await reply(deps, who, errorFrame("internal", `something went wrong on our side (request ${requestId})`));
}
