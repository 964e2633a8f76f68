import { WebSocket } from "ws";

/** What a flooder did, counted from its own sockets. */
export interface FlooderReport {
  framesSent: number;
  /** `rate_limited` answers. */
  refused: number;
  /** Other answers to its own frames: pongs, presence lists, history pages, its own chat messages coming back. */
  answered: number;
  /** Its connections the server closed (a close it did not start). */
  closedByServer: number;
  /** Handshakes refused, e.g. 429 while the server still holds a connection it closed. */
  handshakesRefused: number;
  connectionsOpened: number;
}

/** Options of a {@link Flooder}. */
export interface FlooderOptions {
  /** The WebSocket URL with the channel and the user's token. */
  readonly url: string;
  readonly connections: number;
  /** Frames each connection keeps unanswered: the next is written the moment one is answered. Default: 8. */
  readonly window?: number;
  /** Text of its chat messages, before a number: the flooder's own come back to it. Default: `flood-`. */
  readonly prefix?: string;
}

/**
 * A hostile user: `connections` connections of one user, each writing chat messages, `who`, `history` and `ping` in
 * turn with `window` frames unanswered (as fast as the server answers), and opening again whenever the server closes
 * it. Writing without waiting for answers at all is not something the local stack can be soaked with: its emulator
 * would queue every frame, with no bound, behind the functions' concurrency.
 */
export class Flooder {
  readonly report: FlooderReport = {
    framesSent: 0,
    refused: 0,
    answered: 0,
    closedByServer: 0,
    handshakesRefused: 0,
    connectionsOpened: 0,
  };
  private running = false;
  private readonly sockets = new Set<WebSocket>();
  private turn = 0;
  private nextId = 0;

  constructor(private readonly options: FlooderOptions) {}

  start(): void {
    this.running = true;
    for (let index = 0; index < this.options.connections; index++) this.connect();
  }

  /** Stops writing and closes its connections; resolves once every one is closed. */
  async stop(): Promise<void> {
    this.running = false;
    const closing = [...this.sockets].map(
      (socket) =>
        new Promise<void>((resolve) => {
          if (socket.readyState === WebSocket.CLOSED) return resolve();
          socket.once("close", () => resolve());
          socket.close();
        }),
    );
    await Promise.all(closing);
  }

  private frame(id: number): string {
    const turn = this.turn++;
    switch (turn % 4) {
      case 0:
        return JSON.stringify({ action: "send", message: `${this.options.prefix ?? "flood-"}${id}-${turn}` });
      case 1:
        return '{"action":"who"}';
      case 2:
        return '{"action":"history"}';
      default:
        return '{"action":"ping"}';
    }
  }

  private connect(): void {
    if (!this.running) return;
    const socket = new WebSocket(this.options.url);
    const id = this.nextId++;
    const own = `"message":"${this.options.prefix ?? "flood-"}${id}-`;
    const window = this.options.window ?? 8;
    let unanswered = 0;
    let opened = false;
    this.sockets.add(socket);
    const pump = () => {
      while (this.running && socket.readyState === WebSocket.OPEN && unanswered < window) {
        socket.send(this.frame(id));
        unanswered++;
        this.report.framesSent++;
      }
    };
    socket.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as { type?: string; code?: string };
      if (frame.type === "system") return;
      if (frame.type === "message" && !data.toString().includes(own)) return; // another connection's message
      if (frame.type === "error" && frame.code === "rate_limited") this.report.refused++;
      else this.report.answered++;
      unanswered--;
      pump();
    });
    socket.once("open", () => {
      opened = true;
      this.report.connectionsOpened++;
      pump();
    });
    socket.once("unexpected-response", (_, response) => {
      this.report.handshakesRefused++;
      response.resume();
      socket.terminate();
    });
    socket.on("error", () => {});
    socket.once("close", () => {
      this.sockets.delete(socket);
      if (!this.running) return;
      if (opened) this.report.closedByServer++;
      // Straight back, as a hostile client would; a refused handshake tries again a little later.
      setTimeout(() => this.connect(), opened ? 0 : 100);
    });
  }
}
