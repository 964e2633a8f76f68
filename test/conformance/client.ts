import * as v from "valibot";
import { type RawData, WebSocket } from "ws";
import { type ServerFrame, serverFrameSchema } from "../../lambda/core/server-frames.ts";
import { ConformanceError, show, within } from "./conformance-error.ts";

/** API Gateway's message limit: no server frame may be larger (PROTOCOL "Names and limits"). */
const SERVER_FRAME_MAX_BYTES = 128 * 1024;

/** One frame in a few words: `message from Lucy "hi"`, `error rate_limited`, `system "Bob connected"`, `pong`. */
export function brief(frame: ServerFrame): string {
  switch (frame.type) {
    case "message":
      return `message from ${frame.from} ${show(JSON.stringify(frame.message), 40)}`;
    case "system":
      return `system ${JSON.stringify(frame.message)}`;
    case "error":
      return `error ${frame.code}`;
    case "presence":
      return `presence ${show(frame.users, 120)}`;
    case "history":
      return `history of ${frame.messages.length}`;
    default:
      return frame.type;
  }
}

/** Why a text frame is not a server frame of the protocol, or undefined when it is one. */
function schemaProblem(text: string): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return `a frame that is not JSON: ${show(text)}`;
  }
  const result = v.safeParse(serverFrameSchema, json);
  if (result.success) return undefined;
  const issue = result.issues[0];
  const where = issue.path?.map((item) => String(item.key)).join(".") ?? "frame";
  return `a frame off the schema (${where}: ${issue.message}): ${show(json)}`;
}

/** How a socket ended: the close code and reason the server sent. */
export interface Closed {
  code: number;
  reason: string;
}

/**
 * A real WebSocket client that keeps every server frame, checks each against the project's frame schema (and the
 * 128 KiB limit), and lets a scenario wait, bounded, for the frame it expects.
 */
export class ChatSocket {
  /** Every valid frame received, in arrival order. */
  readonly received: ServerFrame[] = [];
  /** Frames that broke the schema or a limit, described for the report. */
  readonly violations: string[] = [];
  readonly closed: Promise<Closed>;
  private unread: ServerFrame[] = [];
  private waiters = new Set<() => void>();

  constructor(
    readonly socket: WebSocket,
    readonly label: string,
    private readonly timeoutMs: number,
  ) {
    socket.on("message", (data, isBinary) => this.receive(data, isBinary));
    this.closed = new Promise((resolve) =>
      socket.once("close", (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.wake();
      }),
    );
    socket.on("error", () => {}); // a refused or broken socket is reported through `closed` and the waits
  }

  private receive(data: RawData, isBinary: boolean): void {
    const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]);
    const text = bytes.toString("utf8");
    if (isBinary) this.violations.push(`${this.label} received a binary frame: ${show(text)}`);
    if (bytes.byteLength > SERVER_FRAME_MAX_BYTES) {
      this.violations.push(`${this.label} received a ${bytes.byteLength}-byte frame, over 128 KiB`);
    }
    const problem = schemaProblem(text);
    if (problem) {
      this.violations.push(`${this.label} received ${problem}`);
    } else {
      // The raw frame, not the schema's output, which drops keys it does not know (v2's `more`, `count`).
      const frame = JSON.parse(text) as ServerFrame;
      this.received.push(frame);
      this.unread.push(frame);
    }
    this.wake();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Waits (bounded) for the first unread frame that matches, and marks it read. */
  next<T extends ServerFrame = ServerFrame>(
    predicate: (frame: ServerFrame) => boolean,
    what: string,
    timeoutMs = this.timeoutMs,
  ): Promise<T> {
    let done: () => void = () => {};
    const found = new Promise<T>((resolve, reject) => {
      // Leaves the waiters at once, in the same turn: a frame arriving before the promise settles is left unread.
      const settle = (outcome: () => void) => {
        done();
        outcome();
      };
      const check = () => {
        const index = this.unread.findIndex(predicate);
        if (index >= 0) {
          const [frame] = this.unread.splice(index, 1);
          return settle(() => resolve(frame as T));
        }
        // A frame off the schema (API Gateway's own `{"message":"Internal server error"}` among them) fails at once.
        const violation = this.violations[0];
        if (violation) {
          const error = new ConformanceError(
            "a server frame broke the protocol",
            `${this.label} to receive ${what}`,
            violation,
          );
          return settle(() => reject(error));
        }
        if (this.socket.readyState === WebSocket.CLOSED) {
          const error = new ConformanceError("the connection closed", `${this.label} to receive ${what}`, this.seen());
          settle(() => reject(error));
        }
      };
      this.waiters.add(check);
      done = () => this.waiters.delete(check);
      check();
    });
    return within(found, timeoutMs, `${this.label} to receive ${what}`, () => this.seen()).finally(done);
  }

  /** Waits for the next unread frame of one type. */
  nextOfType<K extends ServerFrame["type"]>(type: K, timeoutMs?: number): Promise<Extract<ServerFrame, { type: K }>> {
    return this.next((frame) => frame.type === type, `a ${type} frame`, timeoutMs);
  }

  /** Waits until `count` received frames match; returns them. */
  async collect(predicate: (frame: ServerFrame) => boolean, count: number, what: string): Promise<ServerFrame[]> {
    const taken: ServerFrame[] = [];
    for (let i = 0; i < count; i++) taken.push(await this.next(predicate, `${what} (${i + 1} of ${count})`));
    return taken;
  }

  /** Sends a text frame (a string as is, anything else as JSON). */
  send(data: unknown): void {
    this.socket.send(typeof data === "string" ? data : JSON.stringify(data));
  }

  /** Waits (bounded) for the server to close the connection. */
  waitClosed(what = "the connection to close", timeoutMs = this.timeoutMs): Promise<Closed> {
    return within(this.closed, timeoutMs, `${this.label}: ${what}`, () => this.seen());
  }

  /** Closes the socket and waits, bounded, for the close to complete; a socket that will not close is dropped. */
  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(1000);
    else this.socket.terminate();
    await within(this.closed, 2_000, "close").catch(() => this.socket.terminate());
  }

  /** The frames received so far, briefly, for a failure's "received". */
  seen(): string {
    return this.received.length === 0 ? "no frames" : show(this.received.map(brief).join(", "), 1_200);
  }
}

/** The outcome of a handshake: an open socket and the subprotocol chosen, or the HTTP status of a refusal. */
export type Handshake = { ok: true; socket: ChatSocket; protocol: string } | { ok: false; status: number };

/** Opens a WebSocket; every outcome (open, refused, network error, no answer) is reported within `timeoutMs`. */
export function handshake(
  url: string,
  protocols: string[] | undefined,
  label: string,
  timeoutMs: number,
): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols, { handshakeTimeout: timeoutMs });
    const client = new ChatSocket(socket, label, timeoutMs);
    socket.once("open", () => resolve({ ok: true, socket: client, protocol: socket.protocol }));
    socket.once("unexpected-response", (_, response) => {
      resolve({ ok: false, status: response.statusCode ?? 0 });
      response.resume();
      socket.terminate();
    });
    socket.once("error", (error) =>
      reject(
        new ConformanceError(
          `the WebSocket handshake failed: ${error.message}`,
          `${label} to connect to ${url.split("?")[0]}`,
        ),
      ),
    );
  });
}
