import { WebSocket } from "ws";
import { signSessionToken, tokenKey } from "../lambda/core/session-token.ts";
import { exitWithParent } from "./child.ts";
import { E2E_SECRET } from "./e2e-secret.ts";

/** What the flooder did, counted from its own sockets. */
export interface FlooderStats {
  /** Frames written to its sockets. */
  framesSent: number;
  /** `rate_limited` error frames it was answered. */
  refused: number;
  /** Other answers: pongs, presence lists, history pages, its own chat messages broadcast back. */
  answered: number;
  /** Its connections the server closed (a close it did not start). */
  closedByServer: number;
  /** Handshakes refused, by HTTP status (429: over the user's connections). */
  handshakesRefused: Record<string, number>;
  /** Connections opened, reconnections included. */
  connectionsOpened: number;
  /** Connections open now (0 while every handshake is refused). */
  open: number;
}

/**
 * `{ type: "start", wsUrl, channel, username, connections, window }` opens the connections (again whenever the server
 * closes one, until `end`) and floods on them; `window: 0` only opens them. `{ type: "stop" }` stops writing.
 */
interface Start {
  type: "start";
  /** Frames each connection keeps unanswered. */
  window: number;
  wsUrl: string;
  channel: string;
  username: string;
  connections: number;
}

const stats: FlooderStats = {
  framesSent: 0,
  refused: 0,
  answered: 0,
  closedByServer: 0,
  handshakesRefused: {},
  connectionsOpened: 0,
  open: 0,
};
let flooding = false;
let ending = false;
const sockets = new Set<Flooding>();

/**
 * Frames each connection keeps unanswered: it writes the next the moment an answer comes. Unbounded writing (as fast
 * as the socket takes frames) is not measurable here: the local emulator reads every frame at once and queues its
 * invocation behind the functions' 64 concurrent ones with no bound, so the stack's heap grows until it runs out
 * (4 GB in about two minutes on the benchmark machine). Set by `start`.
 */
let window = 16;
let connectionsWanted = 0;

/** The hostile mix: chat messages, `who`, `history` and `ping`, in turn. */
let turn = 0;
const frames = [
  (tag: string) => JSON.stringify({ action: "send", message: tag }),
  () => '{"action":"who"}',
  () => '{"action":"history"}',
  () => '{"action":"ping"}',
];

/** One of the flooder's connections and its frames not yet answered. */
interface Flooding {
  socket: WebSocket;
  id: number;
  unanswered: number;
}
let nextId = 0;
/** The counts so far, with the connections open now. */
const snapshot = (): FlooderStats => ({
  ...stats,
  open: [...sockets].filter((flood) => flood.socket.readyState === WebSocket.OPEN).length,
});

/** Writes until the connection has `window` frames unanswered. */
function pump(flood: Flooding): void {
  while (flooding && flood.socket.readyState === WebSocket.OPEN && flood.unanswered < window) {
    const frame = frames[turn % frames.length] as (tag: string) => string;
    flood.socket.send(frame(`flood-${flood.id}-${turn++}`));
    flood.unanswered++;
    stats.framesSent++;
  }
}

/** One connection of the flooder, opened again whenever the server closes it, for as long as the run lasts. */
function connect(url: string): void {
  if (ending) return;
  const socket = new WebSocket(url);
  const flood: Flooding = { socket, id: nextId++, unanswered: 0 };
  sockets.add(flood);
  let opened = false;
  const own = `"message":"flood-${flood.id}-`;
  socket.on("message", (data) => {
    const text = data.toString();
    if (text.includes('"rate_limited"')) stats.refused++;
    else if (text.startsWith('{"type":"system"')) return;
    else if (text.startsWith('{"type":"message"') && !text.includes(own))
      return; // someone else's message
    else stats.answered++;
    flood.unanswered--;
    pump(flood);
  });
  socket.once("open", () => {
    opened = true;
    stats.connectionsOpened++;
    pump(flood);
  });
  socket.once("unexpected-response", (_, response) => {
    const status = String(response.statusCode);
    stats.handshakesRefused[status] = (stats.handshakesRefused[status] ?? 0) + 1;
    socket.terminate();
  });
  socket.on("error", () => {});
  socket.once("close", () => {
    sockets.delete(flood);
    if (ending) return;
    if (opened) stats.closedByServer++;
    // Straight back, as a hostile client would; a refused handshake (429 until the server has let go of the closed
    // connection) tries again a little later.
    setTimeout(() => connect(url), opened ? 0 : 100);
  });
}

exitWithParent();
process.on("message", async (message: Start | { type: "stop" } | { type: "stats" } | { type: "end" }) => {
  if (message.type === "start") {
    const { token } = await signSessionToken(tokenKey(E2E_SECRET), message.username, 3_600);
    const url = `${message.wsUrl}?${new URLSearchParams({ channel: message.channel, token })}`;
    flooding = true;
    window = message.window;
    connectionsWanted = message.connections;
    for (const flood of sockets) pump(flood);
    for (let index = sockets.size; index < connectionsWanted; index++) connect(url);
    process.send?.({ type: "started" });
  } else if (message.type === "stop") {
    flooding = false;
    process.send?.({ type: "stopped", stats: snapshot() });
  } else if (message.type === "stats") {
    process.send?.({ type: "stats", stats: snapshot() });
  } else if (message.type === "end") {
    ending = true;
    for (const flood of sockets) flood.socket.terminate();
    process.send?.({ type: "ended", stats: snapshot() });
  }
});
process.send?.({ type: "ready" });
