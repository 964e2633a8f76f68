import { Worker } from "node:worker_threads";
import type { CoreLogger } from "../lambda/core/logger.ts";
import type { ManagementAnswer } from "./management-api.ts";
import { tsWorkerBootstrap } from "./ts-worker.ts";

/** A request the front read: `body` is a POST's (null when over the limit), absent for other methods. */
export interface FrontRequest {
  readonly id: number;
  readonly method: string | undefined;
  readonly encodedId: string;
  readonly body?: Uint8Array | null;
}

/** What the front sends the stack's thread. */
export type FromFront = { type: "listening"; port: number } | { type: "requests"; requests: FrontRequest[] };
/** What the stack's thread sends the front: answers by request id. */
export type ToFront = { type: "answers"; answers: (ManagementAnswer & { id: number })[] };

/** Decides one request's answer (the management API's logic, in the thread that owns the connections). */
export type Answerer = (
  encodedId: string,
  method: string | undefined,
  body: Buffer | undefined,
) => ManagementAnswer | Promise<ManagementAnswer>;

/**
 * The management API's HTTP front in a worker thread (local/management-front.ts): on AWS the management API is a
 * service of API Gateway, on CPUs the function never touches. This thread keeps the decisions (is the connection
 * live, injected faults, the client's buffer) and the WebSocket sends; the front keeps the HTTP. If the front's
 * thread dies, posts to it fail as a refused connection does, and the stack logs it.
 */
export class ManagementThread {
  private outbox: ToFront["answers"] = [];
  private closing = false;

  private constructor(
    private readonly worker: Worker,
    /** The front's endpoint, `http://{host}:{port}/{stage}`. */
    readonly endpoint: string,
  ) {}

  /** Starts the front on `host` (a free port) and resolves once it listens. */
  static start(host: string, stage: string, answer: Answerer, logger: CoreLogger): Promise<ManagementThread> {
    const worker = new Worker(tsWorkerBootstrap(new URL("./management-front.ts", import.meta.url)), {
      eval: true,
      workerData: { host },
    });
    return new Promise((resolve, reject) => {
      let thread: ManagementThread | undefined;
      worker.on("message", (message: FromFront) => {
        if (message.type === "listening") {
          const origin = `http://${host.includes(":") ? `[${host}]` : host}:${message.port}`;
          thread = new ManagementThread(worker, `${origin}/${stage}`);
          resolve(thread);
        } else thread?.received(message.requests, answer);
      });
      worker.on("error", (error) => {
        if (thread) logger.error("management API thread crashed", { error });
        else reject(error);
      });
      worker.once("exit", (code) => {
        if (!thread) reject(new Error(`the management API thread exited (${code}) before listening`));
        else if (!thread.closing) logger.error("management API thread stopped; posts to it now fail", { code });
      });
    });
  }

  private received(requests: FrontRequest[], answer: Answerer): void {
    for (const { id, method, encodedId, body } of requests) {
      const buffer = body ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : undefined;
      const answered = answer(encodedId, method, buffer);
      if (answered instanceof Promise) void answered.then((late) => this.send({ ...late, id }));
      else this.send({ ...answered, id });
    }
  }

  private send(answer: ToFront["answers"][number]): void {
    if (this.outbox.length === 0) setImmediate(() => this.flush());
    this.outbox.push(answer);
  }

  private flush(): void {
    const message: ToFront = { type: "answers", answers: this.outbox };
    this.outbox = [];
    if (!this.closing) this.worker.postMessage(message);
  }

  /** Stops the front; call once the functions no longer post. */
  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }
}
