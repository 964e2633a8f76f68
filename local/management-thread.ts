import type { Worker } from "node:worker_threads";
import type { CoreLogger } from "../lambda/core/logger.ts";
import { httpOrigin } from "./http-origin.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION, type SigV4VerifierOptions } from "./local-aws.ts";
import { internalErrorAnswer, type ManagementAnswer } from "./management-api.ts";
import type { FromFront, FrontAnswers, FrontRequests } from "./management-front-messages.ts";
import { tsWorker } from "./ts-worker.ts";

/** Decides one request's answer (the management API's logic, in the thread that owns the connections). */
export type Answerer = (
  encodedId: string,
  method: string | undefined,
  body: Buffer | undefined,
) => ManagementAnswer | Promise<ManagementAnswer>;

const emptyAnswers = (): Omit<FrontAnswers, "type"> => ({
  ids: [],
  statuses: [],
  headers: [],
  headerEnds: [],
  bodies: [],
});

/**
 * The management API's HTTP front in a worker thread (local/management-front.ts): on AWS the management API is a
 * service of API Gateway, on CPUs the function never touches. This thread keeps the decisions (is the connection
 * live, injected faults, the client's buffer) and the WebSocket sends; the front keeps the HTTP. If the front's
 * thread dies, posts to it fail as a refused connection does, and the stack logs it.
 */
export class ManagementThread {
  private outbox: Omit<FrontAnswers, "type"> = emptyAnswers();
  private closing = false;

  private constructor(
    private readonly worker: Worker,
    /** The front's endpoint, `http://{host}:{port}/{stage}`. */
    readonly endpoint: string,
  ) {}

  /**
   * Starts the front on `host` (a free port) and resolves once it listens. It accepts only requests signed (SigV4,
   * service `execute-api`) for `signing`'s Region with its credentials: by default those the local stack gives its
   * functions.
   */
  static start(
    host: string,
    stage: string,
    answer: Answerer,
    logger: CoreLogger,
    signing: Pick<SigV4VerifierOptions, "region" | "credentials"> = {
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    },
  ): Promise<ManagementThread> {
    const worker = tsWorker(new URL("./management-front.ts", import.meta.url), { host, signing });
    return new Promise((resolve, reject) => {
      let thread: ManagementThread | undefined;
      worker.on("message", (message: FromFront) => {
        if (message.type === "listening") {
          thread = new ManagementThread(worker, `${httpOrigin(host, message.port)}/${stage}`);
          resolve(thread);
        } else thread?.received(message, answer, logger);
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

  /** Decides each request's answer; one whose decision fails is answered 500, as API Gateway fails, and logged. */
  private received(requests: FrontRequests, answer: Answerer, logger: CoreLogger): void {
    const { ids, methods, encodedIds, bodyEnds, bodies } = requests;
    let start = 0;
    for (let index = 0; index < ids.length; index++) {
      const end = bodyEnds[index] as number;
      let body: Buffer | undefined;
      if (end >= 0) {
        body = Buffer.from(bodies.buffer, bodies.byteOffset + start, end - start);
        start = end;
      }
      const id = ids[index] as number;
      let answered: ManagementAnswer | Promise<ManagementAnswer>;
      try {
        answered = answer(encodedIds[index] as string, methods[index], body);
      } catch (error) {
        this.failed(id, error, logger);
        continue;
      }
      if (answered instanceof Promise) {
        answered.then(
          (late) => this.send(id, late),
          (error: unknown) => this.failed(id, error, logger),
        );
      } else this.send(id, answered);
    }
  }

  private failed(id: number, error: unknown, logger: CoreLogger): void {
    logger.error("management API request failed", { error });
    this.send(id, internalErrorAnswer());
  }

  private send(id: number, { status, headers, body }: ManagementAnswer): void {
    const outbox = this.outbox;
    if (outbox.ids.length === 0) setImmediate(() => this.flush());
    outbox.ids.push(id);
    outbox.statuses.push(status);
    for (const name in headers) outbox.headers.push(name, headers[name] as string | number);
    outbox.headerEnds.push(outbox.headers.length);
    outbox.bodies.push(body);
  }

  private flush(): void {
    const message: FrontAnswers = { type: "answers", ...this.outbox };
    this.outbox = emptyAnswers();
    if (!this.closing) this.worker.postMessage(message);
  }

  /** Stops the front; call once the functions no longer post. */
  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }
}
