import { writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { Session } from "node:inspector/promises";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { silentLogger } from "../lambda/core/logger.ts";
import { startLocalStack } from "../local/local-stack.ts";
import { exitWithParent } from "./child.ts";
import { E2E_SECRET } from "./e2e-secret.ts";

/** What an end-to-end server says when it is ready. */
export interface E2eServerReady {
  type: "ready";
  /** Where clients connect (`ws://…` for ours and raw ws, `http://…` for Socket.IO). */
  url: string;
  /** Ours only: the session endpoint handing out tokens. */
  sessionUrl?: string;
}

/**
 * The chat's whole local stack, as `npm start` runs it: the API Gateway emulator and dynalite in this thread, the
 * handlers in a worker thread, the management API's HTTP server in another. (The CPU profile taken with
 * BENCH_PROFILE_DIR is of this thread only.)
 */
async function ours(): Promise<E2eServerReady> {
  const stack = await startLocalStack({ port: 0, tokenSecret: E2E_SECRET, logger: silentLogger });
  return { type: "ready", url: stack.wsUrl, sessionUrl: stack.sessionUrl };
}

/** Socket.IO's idiom for the same chat: rooms, and `io.to(room).emit` for each message (the sender included). */
async function socketIo(): Promise<E2eServerReady> {
  const { Server } = await import("socket.io");
  const http = createServer();
  const io = new Server(http, { transports: ["websocket"], serveClient: false });
  io.on("connection", (socket) => {
    const channel = String(socket.handshake.query.channel ?? "default");
    const from = String(socket.handshake.query.username ?? "anonymous");
    void socket.join(channel);
    socket.on("chat", (message: string) => {
      io.to(channel).emit("message", { type: "message", from, message, channel, timestamp: Date.now() });
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return { type: "ready", url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

/** The least a WebSocket broadcast can do: each message serialised once and sent to every socket of the channel. */
async function rawWs(): Promise<E2eServerReady> {
  const channels = new Map<string, Set<import("ws").WebSocket>>();
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  wss.on("connection", (socket, request) => {
    const query = new URL(request.url ?? "/", "http://localhost").searchParams;
    const channel = query.get("channel") ?? "default";
    const from = query.get("username") ?? "anonymous";
    const members = channels.get(channel) ?? new Set();
    channels.set(channel, members.add(socket));
    socket.on("close", () => members.delete(socket));
    socket.on("message", (data) => {
      const frame = { type: "message", from, message: data.toString(), channel, timestamp: Date.now() };
      const text = JSON.stringify(frame);
      for (const member of members) member.send(text);
    });
  });
  await new Promise<void>((resolve) => wss.once("listening", resolve));
  return { type: "ready", url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` };
}

/**
 * `{ type: "profile-start" }` and `{ type: "profile-stop", file }`: a CPU profile of this server over a stretch the
 * parent chooses (bench/e2e.ts takes one of the message rounds when BENCH_PROFILE_DIR is set).
 */
const inspector = new Session();
process.on("message", (message: { type?: string; file?: string }) => {
  if (message.type === "profile-start") {
    inspector.connect();
    void inspector
      .post("Profiler.enable")
      .then(() => inspector.post("Profiler.start"))
      .then(() => process.send?.({ type: "profiling" }));
  }
  if (message.type === "profile-stop" && message.file) {
    const file = message.file;
    void inspector
      .post("Profiler.stop")
      .then(({ profile }) => writeFile(file, JSON.stringify(profile)))
      .then(() => process.send?.({ type: "profiled", file }));
  }
});

exitWithParent();
const kind = process.argv[2];
const start = kind === "ours" ? ours : kind === "socket.io" ? socketIo : kind === "raw-ws" ? rawWs : undefined;
if (!start) throw new Error(`unknown server kind ${kind}`);
const ready = await start();
// Run by hand (say under --cpu-prof), it prints where it listens and ends on SIGTERM so the profile gets written.
if (process.send) process.send(ready);
else console.log(JSON.stringify(ready));
process.once("SIGTERM", () => process.exit(0));
