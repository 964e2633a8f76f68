import { randomUUID } from "node:crypto";
import type { BroadcastResult } from "./broadcast.ts";
import { type ClientRequest, type FrameRefusal, type HistoryRequest, parseClientFrame } from "./client-frames.ts";
import type { ConnectionRecord, ConnectionStore, Member } from "./connection-store.ts";
import { encodeFrame, HistoryPageBudget } from "./frame-size.ts";
import { conversationKey, type HistoryStore } from "./history-store.ts";
import { limits } from "./limits.ts";
import { type CoreLogger, silentLogger } from "./logger.ts";
import { isPrivateChannel, type MemberStore } from "./member-store.ts";
import type { Poster } from "./poster.ts";
import type { PresenceStore } from "./presence-store.ts";
import type { RateStore } from "./rate-store.ts";
import { ReplyTooLargeError } from "./reply-size.ts";
import {
  type DmFrame,
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
  /** The channels' messages. */
  readonly history: HistoryStore;
  /** Every user's rates and live connections (PROTOCOL v2 "Names and limits"). */
  readonly rates: RateStore;
  /** Who may enter each private channel (PROTOCOL v2 §7). */
  readonly members: MemberStore;
  /** Who is present in each channel, by user, and how many. */
  readonly presence: PresenceStore;
  /** The largest channel, in users, whose members get join and leave notices. Default: `limits.presenceNoticeLimit`. */
  readonly presenceLimit?: number;
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

/**
 * What handling a client frame did, for the handler's log, and `answer`: the frame its sender gets back, encoded.
 * Every client frame has one (a chat message's own copy, a reply, an error); the handler returns it as the body of
 * `$default`'s route response, which API Gateway sends to the sender after the invocation, with no management call.
 */
export type FrameOutcome = (
  | { kind: "broadcast"; messageId: string; result: BroadcastResult }
  /** Kept in the history, but its delivery to the others failed (logged): they read it with `history`. */
  | { kind: "kept"; messageId: string }
  | { kind: "direct"; messageId: string; delivered: number; gone: number }
  | { kind: "replied"; action: ClientRequest["action"] }
  | { kind: "refused"; refusal: FrameRefusal }
) & { answer: string };

const clock = (deps: ChatDeps) => (deps.now ?? Date.now)();

/** A broadcast, timed and reported to `onBroadcast`. */
async function timedFanOut(
  deps: ChatDeps,
  channel: string,
  frame: ServerFrame,
  options: { exclude?: string; pages?: AsyncIterable<Member[]> } = {},
): Promise<BroadcastResult> {
  const started = performance.now();
  const onGone = (gone: string, members: Member[]) => departAll(deps, gone, members);
  const result = await fanOut({ ...deps, onGone }, channel, frame, { ...options, concurrency: deps.concurrency });
  try {
    deps.onBroadcast?.(channel, result, performance.now() - started);
  } catch (error) {
    // A report that fails (metrics) must not turn a delivered message into an `internal` answer, sent again.
    (deps.logger ?? silentLogger).warn("broadcast not reported", { channel, error });
  }
  return result;
}

/** The stored record of a connection made at `connectedAt`, its TTL just over API Gateway's 2-hour cap. */
const connectionRecord = (who: Participant, connectedAt: number): ConnectionRecord => ({
  ...who,
  connectedAt,
  expiresAt: Math.floor(connectedAt / 1000) + limits.connectionTtlSeconds,
});

const noticesUpTo = (deps: ChatDeps) => deps.presenceLimit ?? limits.presenceNoticeLimit;

/**
 * Tells every other member of a channel of at most `presenceLimit` users that someone came or went. `users` is the
 * kept count (after an arrival, before a departure: `departed` says which), which runs high after a missed
 * `$disconnect`. Just over the limit, the users' items are counted instead (at most `presenceLimit` + 1 of them) and
 * the count set right, so a small channel whose count drifted is not left without notices for good; the count grows
 * by one at a time and is checked each time it is just over, so it never drifts past the margin unseen.
 */
async function announce(
  deps: ChatDeps,
  who: Pick<Participant, "connectionId" | "channel">,
  message: string,
  users: number,
  departed = false,
): Promise<BroadcastResult | undefined> {
  const limit = noticesUpTo(deps);
  if (users > limit + limits.presenceRecountMargin) return undefined;
  if (users > limit) {
    const present = await deps.presence.countUpTo(who.channel, limit, departed ? users - 1 : users);
    if (present === undefined || present + (departed ? 1 : 0) > limit) return undefined;
  }
  return timedFanOut(deps, who.channel, systemFrame(who.channel, message, clock(deps)), {
    exclude: who.connectionId,
  });
}

const NO_BROADCAST: BroadcastResult = { delivered: 0, gone: 0, connecting: 0, failed: 0, notRemoved: 0 };

/** Whether a connection may open: `forbidden` (403) or `too_many` (429) refuse the handshake. */
export type Admission = "admitted" | "forbidden" | "too_many";

/**
 * Whether a connection may open, before anything of it is stored: a private channel only to its members (the first
 * user to enter one creates it and owns it, PROTOCOL v2 §7); and at most `limits.connectionsPerUser` live connections
 * per user (PROTOCOL v2), held in the user's item until `leave` (or a post that finds the connection gone) lets go.
 */
export async function admit(deps: ChatDeps, who: Participant): Promise<Admission> {
  const { expiresAt } = connectionRecord(who, clock(deps));
  const take = () => deps.rates.holdConnection(who.username, who.connectionId, expiresAt, limits.connectionsPerUser);
  // Full: `$disconnect` is best-effort, so some held connections may be dead; asking API Gateway frees them. Places
  // kept for connections closed for flooding are not connections: nothing to ask. A user whose live connections all
  // answered is refused by this instance with no call for a while (RateStore.stayFull).
  const first = await take();
  let hold = first === "held";
  if (first === "full") {
    const { freed, allAlive } = await freeDeadHolds(deps, who.username);
    if (freed > 0) hold = (await take()) === "held";
    else if (allAlive) deps.rates.stayFull(who.username);
  }
  if (!hold) return "too_many";
  // After the hold, so that a handshake refused for too many connections never creates (and owns) a channel.
  if (isPrivateChannel(who.channel) && (await deps.members.enter(who.channel, who.username)) === "none") {
    await deps.rates.releaseConnection(who.username, who.connectionId);
    return "forbidden";
  }
  return "admitted";
}

/**
 * Asks API Gateway about each connection a user holds (GetConnection, at most `limits.connectionsPerUser` at once) and
 * lets go of those it answers 410 for: connections whose `$disconnect` never ran. A connection still inside its
 * `$connect` also answers 410 and is left alone while that may be so (`limits.connectGraceMs`). Answers how many
 * were freed, and whether every one was asked and answered as alive (not when one was too young to ask, or its
 * answer failed).
 */
async function freeDeadHolds(deps: ChatDeps, user: string): Promise<{ freed: number; allAlive: boolean }> {
  if (!deps.poster.probe) return { freed: 0, allAlive: false };
  const nowMs = clock(deps);
  const held = Object.entries((await deps.rates.connectionsOf(user)) ?? {});
  const outcomes = await Promise.all(
    held.map(async ([connectionId, until]): Promise<"alive" | "freed" | "unknown"> => {
      const connectedAtMs = (Number(until) - limits.connectionTtlSeconds) * 1000;
      if (nowMs - connectedAtMs < limits.connectGraceMs) return "unknown";
      const status = (await deps.poster.probe?.(connectionId))?.status;
      if (status !== "gone") return status === "delivered" ? "alive" : "unknown";
      const record = await deps.connections.remove(connectionId);
      if (record) await depart(deps, record.channel, { connectionId, username: user });
      else await deps.rates.releaseConnection(user, connectionId);
      return "freed";
    }),
  );
  return {
    freed: outcomes.filter((outcome) => outcome === "freed").length,
    // None held any more (they left between the full answer and this read) is not "all alive": a place is free.
    allAlive: outcomes.length > 0 && outcomes.every((outcome) => outcome === "alive"),
  };
}

/** Thrown by {@link join} when the user was removed from the private channel while its handshake was under way. */
export class NoLongerMemberError extends Error {
  override readonly name = "NoLongerMemberError";
}

/**
 * The seed's onOpen: stores the connection and, when it is the user's first in the channel (PROTOCOL v2 §3), tells
 * every *other* member "Lucy connected" — in channels of at most `presenceLimit` users.
 */
export async function join(deps: ChatDeps, who: Participant): Promise<BroadcastResult> {
  const record = connectionRecord(who, clock(deps));
  await deps.connections.put(record);
  const arrival = await deps.presence.arrive(who.channel, who.username, who.connectionId, record.expiresAt);
  // A removal races a handshake between `admit` and here: `remove` deletes the member first, then reads the presence
  // (both strongly consistent). Either it finds this connection there and takes it out, or this read finds the member
  // gone; the caller then takes the connection out again and refuses the handshake.
  if (isPrivateChannel(who.channel) && !(await deps.members.isMember(who.channel, who.username))) {
    throw new NoLongerMemberError(`${who.username} is no longer a member of ${who.channel}`);
  }
  if (!arrival.first) return NO_BROADCAST;
  // Never post to the joining connection here: until $connect returns, API Gateway answers 410 for it.
  return (await announce(deps, who, `${who.username} connected`, arrival.count)) ?? NO_BROADCAST;
}

/** The first failure of settled steps, thrown once every step has ended. */
function throwFirstFailure(settled: PromiseSettledResult<unknown>[]): void {
  const failed = settled.find((step) => step.status === "rejected");
  if (failed) throw failed.reason;
}

/**
 * A connection leaves its channel's presence and lets go of its hold; the user's last one tells the others "Lucy
 * disconnected". The two steps are independent: one failing neither stops the other nor loses the notice that the
 * presence step decided (only one caller ever sees the last departure).
 */
async function depart(
  deps: ChatDeps,
  channel: string,
  member: Pick<Member, "connectionId" | "username">,
  notify = true,
) {
  const [departure, released] = await Promise.allSettled([
    deps.presence.depart(channel, member.username, member.connectionId),
    deps.rates.releaseConnection(member.username, member.connectionId),
  ]);
  if (departure.status === "rejected") throw departure.reason;
  // The channel had one more user before this departure: that is the size that decides on a notice.
  const notice =
    notify && departure.value.last
      ? await announce(
          deps,
          { connectionId: member.connectionId, channel },
          `${member.username} disconnected`,
          departure.value.count + 1,
          true,
        )
      : undefined;
  throwFirstFailure([released]);
  return notice;
}

/**
 * Members a broadcast found gone (410) and removed leave as their `$disconnect` would have made them. Every departure
 * is tried, and all have ended before this returns or throws (the first failure): none is left running when the
 * function's invocation ends.
 */
async function departAll(deps: ChatDeps, channel: string, members: Member[]): Promise<void> {
  const left = members[Symbol.iterator]();
  const settled: PromiseSettledResult<unknown>[] = [];
  const worker = async () => {
    for (let next = left.next(); !next.done; next = left.next()) {
      settled.push(...(await Promise.allSettled([depart(deps, channel, next.value)])));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limits.departConcurrency, members.length) }, worker));
  throwFirstFailure(settled);
}

/**
 * The seed's onClose: removes the connection and, when it was the user's last in the channel, tells the others. The
 * record's removal and the departure are independent: `$disconnect` runs once, so a failing step must not skip the
 * others (a hold never let go, or a user who stays present with no notice).
 */
export async function leave(deps: ChatDeps, who: Participant, notify = true): Promise<BroadcastResult> {
  const [removed, departed] = await Promise.allSettled([
    deps.connections.remove(who.connectionId),
    depart(deps, who.channel, who, notify),
  ]);
  throwFirstFailure([removed, departed]);
  return (departed.status === "fulfilled" && departed.value) || NO_BROADCAST;
}

/**
 * Takes back a handshake that {@link join} failed: the connection never opened and no `$disconnect` will come, so
 * nothing of it may stay stored, present or held. No one is told: its arrival was not announced (or not surely).
 */
export const abandon = (deps: ChatDeps, who: Participant): Promise<BroadcastResult> => leave(deps, who, false);

/**
 * A frame for the sender, encoded as its route response. One over API Gateway's 128 KB could not be delivered: it
 * throws {@link ReplyTooLargeError}, which the handler answers with an `internal` error frame (replies are paged, so
 * that is a server fault).
 */
function answer(frame: ServerFrame): string {
  const text = JSON.stringify(frame);
  const bytes = Buffer.byteLength(text);
  if (bytes > limits.serverFrameMaxBytes) throw new ReplyTooLargeError(frame.type, bytes);
  return text;
}

const refuse = (refusal: FrameRefusal): FrameOutcome => ({
  kind: "refused",
  refusal,
  answer: answer(errorFrame(refusal.code, refusal.message)),
});

/**
 * Tells the sender why, then closes its connection. The frame is posted, not answered: a route response goes out
 * after the invocation, when the connection is closed already.
 */
async function refuseAndClose(
  deps: ChatDeps,
  who: Participant,
  refusal: FrameRefusal,
  beforeClose?: () => Promise<void>,
) {
  const logger = deps.logger ?? silentLogger;
  const told = await deps.poster.post(who.connectionId, encodeFrame(errorFrame(refusal.code, refusal.message)));
  if (told.status === "failed")
    logger.warn("refusal before a close not posted", { connectionId: who.connectionId, error: told.error });
  await beforeClose?.();
  return deps.poster.close?.(who.connectionId);
}

/** The pages of an index read whose first page has been read already. */
async function* resumed(first: IteratorResult<Member[]>, rest: AsyncIterator<Member[]>): AsyncGenerator<Member[]> {
  if (first.done) return;
  yield first.value;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

/**
 * A chat message whose rate was taken: the history write and the channel's first page of members read at once, then
 * the fan-out to the others, which never starts before the message is kept. The sender's own copy is its answer, so
 * it gets it even when the index does not list it yet (it connected so recently that the index lags). Its record is
 * never stored again here: a frame racing its connection's `$disconnect` must not bring back a user who left, with a
 * fresh TTL (a ghost).
 */
async function sendMessage(deps: ChatDeps, who: Participant, text: string): Promise<FrameOutcome> {
  const frame = newMessage(deps, who.channel, who.username, text);
  const pages = deps.connections.memberPages(who.channel);
  const [kept, first] = await Promise.allSettled([deps.history.append(frame), pages.next()]);
  if (kept.status === "rejected" || first.status === "rejected") await pages.return(undefined).catch(() => {});
  if (kept.status === "rejected") throw kept.reason;
  // Kept: from here the sender is answered with its copy whatever happens to the delivery. An `internal` answer
  // would have the page send it again, and the message would be kept (and rated) twice.
  const copy = answer(frame);
  try {
    if (first.status === "rejected") throw first.reason;
    const result = await timedFanOut(deps, who.channel, frame, {
      pages: resumed(first.value, pages),
      exclude: who.connectionId,
    });
    return { kind: "broadcast", messageId: frame.id, result, answer: copy };
  } catch (error) {
    (deps.logger ?? silentLogger).error("message kept but not delivered", {
      channel: who.channel,
      messageId: frame.id,
      error,
    });
    return { kind: "kept", messageId: frame.id, answer: copy };
  }
}

const newMessage = (deps: ChatDeps, channel: string, from: string, message: string): MessageFrame => ({
  type: "message",
  id: (deps.newId ?? randomUUID)(),
  from,
  message,
  channel,
  timestamp: clock(deps),
});

/**
 * A message from the server publish API (PROTOCOL v2 §8), already validated: kept in the channel's history and
 * delivered to every member as a chat message is (by segments when the channel is large). No rate applies: the
 * caller is a backend holding AWS credentials.
 */
export async function publishMessage(
  deps: ChatDeps,
  channel: string,
  from: string,
  text: string,
): Promise<{ frame: MessageFrame; result: BroadcastResult }> {
  const frame = newMessage(deps, channel, from, text);
  await deps.history.append(frame);
  return { frame, result: await timedFanOut(deps, channel, frame) };
}

/** The rate a frame counts against: chat messages (`send`, plain text, `dm`), or every other request (malformed ones included). */
const rateOf = (parsed: ReturnType<typeof parseClientFrame>) =>
  parsed.ok && (parsed.request.action === "send" || parsed.request.action === "dm")
    ? ({ name: "chat", max: limits.rateMaxMessages, what: "messages" } as const)
    : ({ name: "other", max: limits.rateMaxRequests, what: "requests" } as const);

/**
 * Whether the refusal numbered `refusals` within its minute closes the connection: the 100th (exactly one caller
 * counts it, the count being one atomic update), and every 50th after it in case that close did not take (frames
 * already on their way still arrive, and are refused without closing it again).
 */
export const closesAt = (refusals: number): boolean =>
  refusals >= limits.refusalsBeforeClose &&
  (refusals - limits.refusalsBeforeClose) % limits.refusalsBetweenCloseRetries === 0;

/**
 * Refuses a frame over its user's rate, and counts the refusal against its connection: the one that gets
 * `limits.refusalsBeforeClose` within a minute is closed (PROTOCOL v2), a client that ignores `rate_limited` being
 * one that would otherwise keep every Lambda busy refusing it. Costs no read: the rate's failed update (or nothing,
 * when this instance saw the window full) and the refusal count's update.
 *
 * The closed connection's place among its user's `limits.connectionsPerUser` stays taken for
 * `limits.closedPlaceKeptMs`: a client reconnects in one round trip, so a close that freed the place would only cost
 * it a handshake, and its frames, refused or not, would keep taking the stage's throttle, which API Gateway shares
 * among all clients ("Protect your WebSocket APIs in API Gateway": per account, stage or route, never per client).
 * Kept places bound a flooding user to about `connectionsPerUser` × 100 refused frames a minute.
 */
async function rateLimited(deps: ChatDeps, who: Participant, rate: ReturnType<typeof rateOf>): Promise<FrameOutcome> {
  const refusal: FrameRefusal = {
    code: "rate_limited",
    message: `at most ${rate.max} ${rate.what} per ${limits.rateWindowMs / 1000} seconds`,
  };
  const logger = deps.logger ?? silentLogger;
  let refusals: number;
  try {
    refusals = await deps.rates.count(`refused#${who.connectionId}`, limits.refusalWindowMs);
  } catch (error) {
    // The frame is refused whatever the count: a count that cannot be written (its item throttled by this very
    // flood) must not turn the refusal into `internal`, which tells the client to send again.
    logger.warn("refusal not counted", { connectionId: who.connectionId, error });
    return refuse(refusal);
  }
  if (closesAt(refusals)) {
    // The place is kept before the close, so that no reconnect can take it between the two. Should keeping it fail
    // (DynamoDB throttled, as it may be during a flood), the connection is closed all the same.
    const keptUntil = Math.ceil((clock(deps) + limits.closedPlaceKeptMs) / 1000);
    const keep = () =>
      deps.rates.keepPlace(who.username, who.connectionId, keptUntil).catch((error: unknown) => {
        logger.warn("place of a connection closed for flooding not kept", {
          connectionId: who.connectionId,
          username: who.username,
          error,
        });
      });
    const closed = await refuseAndClose(deps, who, refusal, keep);
    logger.warn("connection closed for ignoring rate_limited", {
      connectionId: who.connectionId,
      username: who.username,
      refusals,
      outcome: closed?.status ?? "no close",
    });
  }
  return refuse(refusal);
}

/**
 * The answer to `who`: the channel's users, unique, sorted by code point, the first `limits.presenceListMax` listed,
 * and `count` all of them, from the presence items and the channel's kept count: never a read of the whole channel.
 */
async function presence(deps: ChatDeps, channel: string): Promise<ServerFrame> {
  const { users, count } = await deps.presence.list(channel, limits.presenceListMax);
  return presenceFrame(channel, users, count);
}

/**
 * The answer to `history`: one page that fits a frame (PROTOCOL §4), of the connection's channel, or (v2 §7) of the
 * sender's direct messages with one user: the conversation is found from the sender's own name, so nobody reads
 * another pair's messages.
 */
async function historyPage(deps: ChatDeps, who: Participant, request: HistoryRequest): Promise<ServerFrame> {
  const { before, after } = request;
  const source = request.with === undefined ? who.channel : { with: request.with };
  const partition = request.with === undefined ? who.channel : conversationKey(who.username, request.with);
  const page = await deps.history.page(partition, { before, after }, new HistoryPageBudget(source));
  return historyFrame(source, page.messages, page.more);
}

/**
 * A direct message (PROTOCOL v2 §7): kept in the pair's conversation, then posted to every live connection of the
 * recipient and of the sender (the sending one answered instead), whatever channel each is in, as their users'
 * connection items list them. The recipient offline, it is kept all the same and read later with `history` `with`.
 * A connection found gone is removed, leaves its channel's presence and lets go of its hold, as in a broadcast.
 */
async function sendDirect(deps: ChatDeps, who: Participant, to: string, message: string): Promise<FrameOutcome> {
  if (to === who.username) return refuse({ code: "forbidden", message: "a direct message needs another user" });
  const frame: DmFrame = {
    type: "dm",
    id: (deps.newId ?? randomUUID)(),
    from: who.username,
    to,
    message,
    timestamp: clock(deps),
  };
  await deps.history.append(frame, conversationKey(who.username, to));
  const nowSeconds = Math.floor(frame.timestamp / 1000);
  let held: (Record<string, number> | undefined)[];
  try {
    held = await Promise.all([who.username, to].map((user) => deps.rates.connectionsOf(user)));
  } catch (error) {
    // Kept: answered with its copy (not `internal`, which would have it sent and kept again); read with `history`.
    (deps.logger ?? silentLogger).error("direct message kept but not delivered", { messageId: frame.id, error });
    return { kind: "kept", messageId: frame.id, answer: answer(frame) };
  }
  /** The other connections of both users; the sending one gets its copy as its answer. */
  const targets = new Map<string, string>();
  /** Connections this young may still be inside their `$connect`, where a 410 does not mean gone. */
  const connecting = new Set<string>();
  held.forEach((connections, i) => {
    for (const [id, until] of Object.entries(connections ?? {})) {
      if (Number(until) <= nowSeconds || id === who.connectionId) continue;
      targets.set(id, i === 0 ? who.username : to);
      const connectedAtMs = (Number(until) - limits.connectionTtlSeconds) * 1000;
      if (frame.timestamp - connectedAtMs < limits.connectGraceMs) connecting.add(id);
    }
  });
  const data = encodeFrame(frame);
  let delivered = 0;
  const gone: Pick<Member, "connectionId" | "username">[] = [];
  await Promise.all(
    [...targets].map(async ([connectionId, username]) => {
      const outcome = await deps.poster.post(connectionId, data);
      if (outcome.status === "delivered") delivered++;
      else if (outcome.status === "gone" && !connecting.has(connectionId)) gone.push({ connectionId, username });
    }),
  );
  // Delivered and kept: whatever happens to the cleanup below, the sender is answered with its copy, never with an
  // `internal` error that would have it send the message again.
  const copy = answer(frame);
  for (const member of gone) {
    try {
      const record = await deps.connections.remove(member.connectionId);
      if (record) await depart(deps, record.channel, member);
      else await deps.rates.releaseConnection(member.username, member.connectionId);
    } catch (error) {
      (deps.logger ?? silentLogger).warn("gone recipient of a direct message not removed", {
        connectionId: member.connectionId,
        error,
      });
    }
  }
  return { kind: "direct", messageId: frame.id, delivered, gone: gone.length, answer: copy };
}

/**
 * `invite` and `remove` (PROTOCOL v2 §7): only the owner of a private channel changes its members. The channel is
 * told who was added or removed; a removed member's connections to it are closed.
 */
async function changeMembers(
  deps: ChatDeps,
  who: Participant,
  request: { action: "invite" | "remove"; user: string },
): Promise<FrameOutcome> {
  if (!isPrivateChannel(who.channel)) {
    return refuse({ code: "forbidden", message: "only private channels have members" });
  }
  const { action, user } = request;
  const change =
    action === "invite"
      ? await deps.members.invite(who.channel, who.username, user)
      : await deps.members.remove(who.channel, who.username, user);
  if (change === "forbidden") {
    const what =
      action === "remove" && user === who.username
        ? "the owner cannot be removed"
        : `only the channel's owner can ${action}`;
    return refuse({ code: "forbidden", message: what });
  }
  if (change === "unchanged") {
    const what = action === "invite" ? `${user} is already a member` : `${user} is not a member`;
    return { kind: "replied", action, answer: answer(systemFrame(who.channel, what, clock(deps))) };
  }
  if (action === "remove") {
    // Out of the channel's membership at once, whether or not each close succeeds (or finds the connection still in
    // its $connect): broadcasts stop reaching it with its record gone.
    const connections = await deps.presence.connectionsOf(who.channel, user);
    await Promise.all(
      connections.map(async (connectionId) => {
        await deps.connections.remove(connectionId);
        await depart(deps, who.channel, { connectionId, username: user });
        const closed = await deps.poster.close?.(connectionId);
        if (closed?.status === "failed") {
          (deps.logger ?? silentLogger).warn("removed member's connection not closed", {
            connectionId,
            channel: who.channel,
            error: closed.error,
          });
        }
      }),
    );
  }
  const notice = action === "invite" ? `${who.username} added ${user}` : `${who.username} removed ${user}`;
  const frame = systemFrame(who.channel, notice, clock(deps));
  await timedFanOut(deps, who.channel, frame, { exclude: who.connectionId });
  return { kind: "replied", action, answer: answer(frame) };
}

/** The seed's onMessage, and the rest of PROTOCOL §4: one client frame from a connection. */
export async function handleFrame(deps: ChatDeps, who: Participant, body: string): Promise<FrameOutcome> {
  const parsed = parseClientFrame(body);
  const rate = rateOf(parsed);
  const taken = await deps.rates.take(`${rate.name}#${who.username}`, { max: rate.max, windowMs: limits.rateWindowMs });
  if (!taken.allowed) return rateLimited(deps, who, rate);
  if (!parsed.ok) return refuse(parsed.refusal);
  const { request } = parsed;
  if (
    inChannel(request) &&
    isPrivateChannel(who.channel) &&
    !(await deps.members.isMember(who.channel, who.username))
  ) {
    // Removed while connected: it reads and writes nothing more there, is told why, and its connection is closed.
    const refusal: FrameRefusal = { code: "forbidden", message: "you are no longer a member of this channel" };
    await refuseAndClose(deps, who, refusal);
    return refuse(refusal);
  }
  switch (request.action) {
    case "send":
      return sendMessage(deps, who, request.message);
    case "dm":
      return sendDirect(deps, who, request.to, request.message);
    case "invite":
    case "remove":
      return changeMembers(deps, who, request);
    case "ping":
      return { kind: "replied", action: request.action, answer: answer(pongFrame(clock(deps))) };
    case "who":
      return { kind: "replied", action: request.action, answer: answer(await presence(deps, who.channel)) };
    case "history":
      return { kind: "replied", action: request.action, answer: answer(await historyPage(deps, who, request)) };
  }
}

/** Whether a request reads or writes the connection's channel (a private one's members only may). */
const inChannel = (request: ClientRequest) =>
  request.action === "send" || request.action === "who" || (request.action === "history" && request.with === undefined);

/** The answer telling the sender that the server failed; its connection stays open. */
export const internalErrorAnswer = (requestId: string): string =>
  answer(errorFrame("internal", `something went wrong on our side (request ${requestId})`));
