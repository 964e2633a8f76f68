import { CHAT_SUBPROTOCOL } from "../../lambda/core/subprotocol.ts";
import { type BackoffOptions, backoffDelay } from "./backoff.ts";
import { SessionRefused } from "./session.ts";

/** What the connection is doing, for the status line. */
export type ConnectionState =
  | { readonly kind: "idle" }
  | { readonly kind: "connecting" }
  | { readonly kind: "online" }
  | { readonly kind: "reconnecting"; readonly at: number }
  | { readonly kind: "offline"; readonly reason?: string };

/** How a {@link ChatClient} connects. */
export interface ChatClientOptions {
  /**
   * Where and how to connect for `channel` (see {@link socketTarget}); `renewToken` asks for a new token because the
   * last handshake was refused. A {@link SessionRefused} error stops the client; any other is retried.
   */
  readonly locate: (channel: string, renewToken: boolean) => Promise<SocketTarget>;
  /** Keep-alive interval; a ping left unanswered until the next one drops the connection as dead. */
  readonly pingMs: number;
  readonly backoff: BackoffOptions;
  /** Default: the browser's WebSocket. */
  readonly createSocket?: (url: string, protocols: string[]) => WebSocket;
  readonly random?: () => number;
  readonly now?: () => number;
}

/** A socket to open: the URL and the subprotocols to offer. */
export interface SocketTarget {
  readonly url: string;
  readonly protocols: string[];
}

/**
 * `{wsUrl}?channel=…` with the token offered as a subprotocol beside `chat.v1`: browsers cannot set headers on a
 * WebSocket, and a token in the query string would end up in access logs and the browser's network panel.
 */
export function socketTarget(wsUrl: string, channel: string, token: string): SocketTarget {
  const url = new URL(wsUrl);
  url.searchParams.set("channel", channel);
  return { url: url.href, protocols: [CHAT_SUBPROTOCOL, token] };
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

type Handler<E extends Event> = ((event: E) => void) | null;

/**
 * The page's live connection, `window.wschat`: it behaves as the browser's WebSocket (`send`, `readyState`,
 * `addEventListener("message")`, `close`, `on…` handlers) but stays the same object while it reconnects underneath,
 * with full-jitter backoff, after any close it did not ask for (API Gateway cuts every connection at 2 hours).
 * While it waits to reconnect, `readyState` is CONNECTING. It also sends the keep-alive pings, and emits
 * `statechange` events for the status line.
 */
export class ChatClient extends EventTarget {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = 2;
  static readonly CLOSED = CLOSED;
  readonly CONNECTING = CONNECTING;
  readonly OPEN = OPEN;
  readonly CLOSING = 2;
  readonly CLOSED = CLOSED;

  onopen: Handler<Event> = null;
  onmessage: Handler<MessageEvent> = null;
  onerror: Handler<Event> = null;
  onclose: Handler<CloseEvent> = null;

  readonly #options: ChatClientOptions;
  #channel: string | undefined;
  #socket: WebSocket | undefined;
  #state: ConnectionState = { kind: "idle" };
  /** Bumped by every join, retry and close; work started under an older value is stale and does nothing. */
  #generation = 0;
  #attempt = 0;
  #renewToken = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #pingTimer: ReturnType<typeof setInterval> | undefined;

  constructor(options: ChatClientOptions) {
    super();
    this.#options = options;
  }

  /** The channel joined (or being joined), if any. */
  get channel(): string | undefined {
    return this.#channel;
  }

  /** What the connection is doing. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** As WebSocket's; CONNECTING also while a reconnect is scheduled. */
  get readyState(): number {
    const socket = this.#socket;
    if (socket && socket.readyState !== CLOSED) return socket.readyState;
    return this.#state.kind === "connecting" || this.#state.kind === "reconnecting" ? CONNECTING : CLOSED;
  }

  /** The current socket's URL (the token is not in it: it travels as a subprotocol). */
  get url(): string {
    return this.#socket?.url ?? "";
  }

  /** As WebSocket's, for the current socket. */
  get bufferedAmount(): number {
    return this.#socket?.bufferedAmount ?? 0;
  }

  /** Connects to `channel`, leaving the current one (switching channels is a new connection, PROTOCOL §3). */
  join(channel: string): void {
    this.#stop();
    this.#socket?.close(1000, "switching channel");
    this.#socket = undefined;
    this.#channel = channel;
    this.#attempt = 0;
    void this.#connect(++this.#generation);
  }

  /** Skips the rest of a reconnect delay (the browser just came back online). */
  reconnectNow(): void {
    if (this.#state.kind !== "reconnecting") return;
    clearTimeout(this.#retryTimer);
    void this.#connect(this.#generation);
  }

  /** Sends a frame as WebSocket does: throws while connecting, drops it silently once closed. */
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
    if (this.readyState === CONNECTING) throw new DOMException("wschat is still connecting", "InvalidStateError");
    if (this.#socket?.readyState === OPEN) this.#socket.send(data);
  }

  /** Closes for good: no reconnect until the next `join`. */
  close(code?: number, reason?: string): void {
    this.#stop();
    this.#generation++;
    this.#setState({ kind: "offline" });
    this.#socket?.close(code, reason);
  }

  override dispatchEvent(event: Event): boolean {
    const handler = this[`on${event.type}` as "onopen"];
    if (typeof handler === "function") handler.call(this, event);
    return super.dispatchEvent(event);
  }

  async #connect(generation: number): Promise<void> {
    const channel = this.#channel;
    if (generation !== this.#generation || channel === undefined) return;
    this.#setState({ kind: "connecting" });
    let target: SocketTarget;
    try {
      target = await this.#options.locate(channel, this.#renewToken);
    } catch (error) {
      if (generation !== this.#generation) return;
      if (error instanceof SessionRefused) {
        this.#setState({ kind: "offline", reason: error.message });
        return;
      }
      this.#retry();
      return;
    }
    if (generation !== this.#generation) return;
    this.#renewToken = false;
    let socket: WebSocket;
    try {
      const create = this.#options.createSocket ?? ((href, protocols) => new WebSocket(href, protocols));
      socket = create(target.url, target.protocols);
    } catch {
      // A malformed URL, or a browser that throws for a CSP-blocked endpoint: as good as a refused handshake.
      this.#retry();
      return;
    }
    this.#socket = socket;
    this.#attach(socket, generation);
  }

  #attach(socket: WebSocket, generation: number): void {
    let opened = false;
    let answered = true;
    const current = () => generation === this.#generation;
    socket.addEventListener("open", () => {
      if (!current()) return;
      opened = true;
      this.#attempt = 0;
      this.#setState({ kind: "online" });
      this.#pingTimer = setInterval(() => {
        // No frame at all since the last ping: the connection is dead without a close (a laptop lid, a lost route).
        if (answered) {
          answered = false;
          socket.send(JSON.stringify({ action: "ping" }));
        } else {
          this.#drop(socket);
        }
      }, this.#options.pingMs);
      this.dispatchEvent(new Event("open"));
    });
    socket.addEventListener("message", (event) => {
      answered = true;
      if (current()) this.dispatchEvent(new MessageEvent("message", { data: event.data, origin: event.origin }));
    });
    socket.addEventListener("error", () => {
      if (current()) this.dispatchEvent(new Event("error"));
    });
    socket.addEventListener("close", (event) => {
      const { code, reason, wasClean } = event;
      const unasked = current();
      if (unasked) {
        clearInterval(this.#pingTimer);
        // Closed before it opened: the handshake was refused, most likely for the token (expired, new secret).
        if (!opened) this.#renewToken = true;
        this.#retry();
      }
      this.dispatchEvent(new CloseEvent("close", { code, reason, wasClean }));
    });
  }

  #drop(socket: WebSocket): void {
    this.#socket = undefined;
    this.#retry();
    socket.close(4000, "no answer to ping");
  }

  #retry(): void {
    this.#stop();
    const generation = ++this.#generation;
    const delay = backoffDelay(this.#attempt++, this.#options.backoff, this.#options.random);
    this.#setState({ kind: "reconnecting", at: (this.#options.now ?? Date.now)() + delay });
    this.#retryTimer = setTimeout(() => void this.#connect(generation), delay);
  }

  #stop(): void {
    clearTimeout(this.#retryTimer);
    clearInterval(this.#pingTimer);
  }

  #setState(state: ConnectionState): void {
    this.#state = state;
    this.dispatchEvent(new CustomEvent("statechange", { detail: state }));
  }
}
