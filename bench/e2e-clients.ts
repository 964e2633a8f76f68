import { WebSocket } from "ws";
import type { E2eServerReady } from "./e2e-server.ts";

/** Many clients of one system, all in one channel. */
export interface E2eClients {
  /** Sends chat message `text` from client `index`. */
  send(index: number, text: string): void;
  /** Frames of any kind received so far, by all clients (to see when the channel has gone quiet). */
  framesReceived(): number;
  close(): void;
}

/** Told of every benchmark message a client receives: its number. */
export type OnDelivery = (message: number) => void;

/** The benchmark's messages are `bench-<number>`; any other frame (a join announcement, say) is only counted. */
export const benchText = (message: number): string => `bench-${message}`;
const BENCH_MESSAGE = /"message":"bench-(\d+)"/;

/** Runs `task` over `items` with at most `limit` at a time. */
async function pool<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function openSocket(url: string, onFrame: (text: string) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.on("message", (data) => onFrame(data.toString()));
    socket.once("open", () => resolve(socket));
    socket.once("unexpected-response", (_, response) => reject(new Error(`handshake refused: ${response.statusCode}`)));
    socket.once("error", reject);
  });
}

/** WebSocket clients of ours (tokens from `POST /session`, fetched in parallel) or of the raw ws server. */
export async function connectWebSockets(
  ready: E2eServerReady,
  count: number,
  channel: string,
  onDelivery: OnDelivery,
  openAtOnce = 16,
): Promise<E2eClients> {
  let frames = 0;
  const onFrame = (text: string) => {
    frames++;
    const match = BENCH_MESSAGE.exec(text);
    if (match) onDelivery(Number(match[1]));
  };
  const names = Array.from({ length: count }, (_, index) => `user${index}`);
  const urls = await pool(names, 32, async (username) => {
    const query = new URLSearchParams({ channel, username });
    if (ready.sessionUrl) {
      const response = await fetch(ready.sessionUrl, { method: "POST", body: JSON.stringify({ username }) });
      if (!response.ok) throw new Error(`session for ${username}: ${response.status}`);
      query.set("token", ((await response.json()) as { token: string }).token);
    }
    return `${ready.url}?${query}`;
  });
  const sockets = await pool(urls, openAtOnce, (url) => openSocket(url, onFrame));
  // Ours takes chat messages as `{"action":"send",…}` (PROTOCOL §4); the raw server takes the text itself.
  const frame = ready.sessionUrl ? (text: string) => JSON.stringify({ action: "send", message: text }) : String;
  return {
    send: (index, text) => sockets[index]?.send(frame(text)),
    framesReceived: () => frames,
    close: () => {
      for (const socket of sockets) socket.terminate();
    },
  };
}

/** Socket.IO clients (WebSocket transport only, one connection each), or undefined when socket.io-client is missing. */
export async function connectSocketIo(
  ready: E2eServerReady,
  count: number,
  channel: string,
  onDelivery: OnDelivery,
): Promise<E2eClients> {
  const { io } = await import("socket.io-client");
  let frames = 0;
  const sockets = await pool(
    Array.from({ length: count }, (_, index) => index),
    16,
    (index) =>
      new Promise<ReturnType<typeof io>>((resolve, reject) => {
        const socket = io(ready.url, {
          transports: ["websocket"],
          forceNew: true,
          reconnection: false,
          query: { channel, username: `user${index}` },
        });
        socket.on("message", (frame: { message?: string }) => {
          frames++;
          const match = /^bench-(\d+)$/.exec(frame.message ?? "");
          if (match) onDelivery(Number(match[1]));
        });
        socket.once("connect", () => resolve(socket));
        socket.once("connect_error", reject);
      }),
  );
  return {
    send: (index, text) => sockets[index]?.emit("chat", text),
    framesReceived: () => frames,
    close: () => {
      for (const socket of sockets) socket.disconnect();
    },
  };
}
