import { WebSocket } from "ws";
import { limits } from "../lambda/core/limits.ts";
import { signSessionToken, tokenKey } from "../lambda/core/session-token.ts";
import { startHelper } from "./child.ts";
import { E2E_SECRET } from "./e2e-secret.ts";
import type { E2eServerReady } from "./e2e-server.ts";

/** One crowd of clients joining one channel, from the first handshake until everything they were sent has arrived. */
export interface JoinCrowd {
  /** From the first handshake to the last `$connect` answered and the last frame received (the stack idle). */
  seconds: number;
  /** From the first handshake to the last `$connect` answered (the last client's `open`). */
  lastOpenSeconds: number;
  /** Frames the clients received while joining (the join notices of a channel still within the presence limit). */
  framesReceived: number;
  /** Handshakes refused or failed (should be 0). */
  failed: number;
}

/** 1,000 clients joining one channel of ours, beside the same crowd joining the raw `ws` server (the floor). */
export interface JoinCrowdResult {
  clients: number;
  /** Handshakes in flight at once, as a crowd arriving together. */
  concurrency: number;
  /** The stack's presence limit (its default, `CHAT_PRESENCE_LIMIT`). */
  presenceLimit: number;
  ours: JoinCrowd;
  rawWs: JoinCrowd;
}

/** Frames keep arriving until none has come for this long: then the system is taken as idle. */
const QUIET_MS = 1_000;
const CHANNEL = "crowd";

/** Runs `task` over `items` with at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Opens one client per URL, `concurrency` handshakes in flight, and waits until the last is open and no frame has
 * arrived for {@link QUIET_MS}; the time ends at whichever came last, the last open or the last frame. Closes all.
 */
async function joinCrowd(urls: readonly string[], concurrency: number): Promise<JoinCrowd> {
  const sockets: WebSocket[] = [];
  let frames = 0;
  let failed = 0;
  const started = performance.now();
  let lastEvent = started;
  let lastOpen = started;
  try {
    await pool(
      urls,
      concurrency,
      (url) =>
        new Promise<void>((resolve) => {
          const socket = new WebSocket(url);
          sockets.push(socket);
          socket.on("message", () => {
            frames++;
            lastEvent = performance.now();
          });
          socket.once("open", () => {
            lastOpen = performance.now();
            lastEvent = Math.max(lastEvent, lastOpen);
            resolve();
          });
          socket.once("error", () => {
            failed++;
            resolve();
          });
        }),
    );
    // Every notice was posted before its `$connect` was answered; wait for the frames still on their way.
    while (performance.now() - lastEvent < QUIET_MS) await new Promise((resolve) => setTimeout(resolve, 50));
    return {
      seconds: (lastEvent - started) / 1000,
      lastOpenSeconds: (lastOpen - started) / 1000,
      framesReceived: frames,
      failed,
    };
  } finally {
    for (const socket of sockets) socket.terminate();
  }
}

/**
 * `clients` real WebSocket clients (`ws`) joining one channel, `concurrency` handshakes at a time: on ours (the whole
 * local stack as `npm start` runs it, in a process of its own, with its default presence limit), then on the raw
 * `ws` server as the floor any WebSocket server has. Tokens are signed beforehand with the stack's secret (as
 * `POST /session` would sign them), so only the handshakes are timed.
 */
export async function measureJoinCrowd(clients = 1_000, concurrency = 16): Promise<JoinCrowdResult> {
  const server = new URL("e2e-server.ts", import.meta.url).pathname;
  const key = tokenKey(E2E_SECRET);
  const tokens = await Promise.all(
    Array.from({ length: clients }, (_, index) => signSessionToken(key, `crowd${index}`, 3_600)),
  );
  const measure = async (kind: "ours" | "raw-ws") => {
    const helper = await startHelper<E2eServerReady>(server, [kind]);
    try {
      const urls = tokens.map(({ token, username }) => {
        const query = new URLSearchParams({ channel: CHANNEL, username });
        if (kind === "ours") query.set("token", token);
        return `${helper.ready.url}?${query}`;
      });
      return await joinCrowd(urls, concurrency);
    } finally {
      await helper.stop();
    }
  };
  const ours = await measure("ours");
  const rawWs = await measure("raw-ws");
  return { clients, concurrency, presenceLimit: limits.presenceNoticeLimit, ours, rawWs };
}
