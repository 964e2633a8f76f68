import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { WebSocket } from "ws";
import { silentLogger } from "../../lambda/core/logger.ts";
import type { ServerFrame } from "../../lambda/core/server-frames.ts";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../../local/local-stack.ts";
import { SECRET } from "../fixtures.ts";

/** A local stack on a free port, quiet, with the test secret. */
export const startTestStack = (options: LocalStackOptions = {}): Promise<LocalStack> =>
  startLocalStack({ port: 0, tokenSecret: SECRET, logger: silentLogger, ...options });

/** `POST /session` for a username; the parsed answer and status. */
/** What `POST /session` answers: a session, or an error. */
export interface SessionAnswer {
  token: string;
  username: string;
  expiresAt: number;
  error?: string;
}

export async function requestSession(
  stack: LocalStack,
  body: unknown,
): Promise<{ status: number; body: SessionAnswer }> {
  const response = await fetch(stack.sessionUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

export async function tokenFor(stack: LocalStack, username: string): Promise<string> {
  const { status, body } = await requestSession(stack, { username });
  if (status !== 200) throw new Error(`session for ${username}: ${status} ${JSON.stringify(body)}`);
  return body.token;
}

/** A real WebSocket client that keeps every frame it receives, parsed. */
export class ChatClient {
  readonly frames: ServerFrame[] = [];
  private waiters: { predicate: (frame: ServerFrame) => boolean; resolve: (frame: ServerFrame) => void }[] = [];
  closed: Promise<{ code: number; reason: string }>;

  constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const frame = JSON.parse(data.toString());
      this.frames.push(frame);
      this.waiters = this.waiters.filter((waiter) => {
        if (!waiter.predicate(frame)) return true;
        waiter.resolve(frame);
        return false;
      });
    });
    this.closed = new Promise((resolve) =>
      socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  /** The next frame (already received or still to come) that matches, after those already taken. */
  next(predicate: (frame: ServerFrame) => boolean, timeoutMs = 5_000, what = "a frame"): Promise<ServerFrame> {
    const seen = this.frames.find(predicate);
    if (seen) {
      this.frames.splice(this.frames.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames)}`)),
        timeoutMs,
      );
      this.waiters.push({
        predicate,
        resolve: (frame) => {
          clearTimeout(timer);
          this.frames.splice(this.frames.indexOf(frame), 1);
          resolve(frame);
        },
      });
    });
  }

  async ofType<T extends ServerFrame["type"]>(type: T, timeoutMs?: number): Promise<Extract<ServerFrame, { type: T }>> {
    return (await this.next((frame) => frame.type === type, timeoutMs, `a ${type} frame`)) as Extract<
      ServerFrame,
      { type: T }
    >;
  }

  send(data: string | object): void {
    this.socket.send(typeof data === "string" ? data : JSON.stringify(data));
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    this.socket.close();
    await this.closed;
  }
}

/** Opens a socket; resolves with the client once open, or rejects with the handshake's HTTP status. */
export function openSocket(url: string, protocols?: string | string[]): Promise<ChatClient> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols);
    const client = new ChatClient(socket);
    socket.once("open", () => resolve(client));
    socket.once("unexpected-response", (_, response) => {
      reject(Object.assign(new Error(`handshake refused: ${response.statusCode}`), { status: response.statusCode }));
      socket.terminate();
    });
    socket.once("error", reject);
  });
}

/** Connects a user to a channel with a fresh session token. */
export async function connect(stack: LocalStack, username: string, channel?: string): Promise<ChatClient> {
  const query = new URLSearchParams({ token: await tokenFor(stack, username), ...(channel ? { channel } : {}) });
  return openSocket(`${stack.wsUrl}?${query}`);
}

/** Every stored connection (inspection only: the product never scans). */
export async function storedConnections(stack: LocalStack): Promise<Record<string, unknown>[]> {
  const result = await stack.documentClient.send(new ScanCommand({ TableName: stack.tables.connections }));
  return result.Items ?? [];
}

/** Waits until `check` holds, polling. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
