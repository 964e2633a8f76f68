import type { Worker } from "node:worker_threads";
import type { CoreLogger } from "../lambda/core/logger.ts";
import {
  FUNCTION_NAMES,
  type FunctionConfig,
  type FunctionHooks,
  type FunctionName,
  type LambdaFunctions,
} from "./lambda-functions.ts";
import type { FromStack, ToStack } from "./lambda-worker-messages.ts";
import { fromThread } from "./thread-values.ts";
import { tsWorker } from "./ts-worker.ts";

/** The worker's module: the chat's functions. */
const FUNCTIONS_ENTRY = new URL("./lambda-worker.ts", import.meta.url);

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * The chat's functions in a worker thread of their own, invoked by message: the stack's thread (API Gateway, the
 * management API's decisions, the store) and the functions then run on separate cores, as they never share a CPU on
 * AWS (the management API's HTTP server has a thread of its own, local/management-thread.ts). A thread that
 * dies fails the invocations it was running and is replaced by a fresh one (a new cold start), as Lambda replaces a
 * crashed instance; the stack never waits on a dead thread.
 */
export class LambdaThread {
  /** The functions, each a proxy that invokes its namesake in the worker. */
  readonly functions: LambdaFunctions;
  private worker: Worker | undefined;
  private starting: Promise<Worker> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closing = false;

  private constructor(
    private readonly config: FunctionConfig,
    private readonly hooks: FunctionHooks,
    private readonly entry: URL,
  ) {
    this.functions = Object.fromEntries(
      FUNCTION_NAMES.map((name) => [name, (event: unknown) => this.invoke(name, event)]),
    ) as LambdaFunctions;
  }

  /**
   * Starts the worker and waits for its cold start; rejects with the functions' own error if they cannot start.
   * `entry` is the worker's module, speaking {@link ToStack}/{@link FromStack}; tests hand in their own.
   */
  static async start(config: FunctionConfig, hooks: FunctionHooks, entry = FUNCTIONS_ENTRY): Promise<LambdaThread> {
    const thread = new LambdaThread(config, hooks, entry);
    await thread.spawn();
    return thread;
  }

  private get logger(): CoreLogger {
    return this.hooks.logger;
  }

  private spawn(): Promise<Worker> {
    const worker = tsWorker(this.entry, this.config);
    this.starting = new Promise<Worker>((resolve, reject) => {
      let ready = false;
      worker.on("message", (message: ToStack) => {
        if (message.type === "ready") {
          ready = true;
          this.worker = worker;
          this.starting = undefined;
          resolve(worker);
        } else if (message.type === "start-failed") reject(fromThread(message.error));
        else this.received(worker, message);
      });
      worker.on("error", (error) => {
        if (ready) this.logger.error("Lambda worker thread crashed", { error });
        else reject(error);
      });
      worker.once("exit", (code) => {
        if (!ready) reject(new Error(`the Lambda worker thread exited (${code}) during its cold start`));
        this.exited(worker, code);
      });
    });
    this.starting.catch(() => {
      // A failed start is not kept: the next invocation tries a new cold start.
      this.starting = undefined;
      void worker.terminate();
    });
    return this.starting;
  }

  private received(worker: Worker, message: Exclude<ToStack, { type: "ready" | "start-failed" }>): void {
    switch (message.type) {
      case "result":
      case "failed": {
        const pending = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.type === "result") pending?.resolve(message.value);
        else pending?.reject(fromThread(message.error));
        return;
      }
      case "log":
        this.logger[message.level](message.message, ...(fromThread(message.extra) as Record<string, unknown>[]));
        return;
      case "enqueue": {
        const reply = (error?: string) => {
          const answer: FromStack = { type: "enqueued", id: message.id, ...(error === undefined ? {} : { error }) };
          if (this.worker === worker) worker.postMessage(answer);
        };
        this.hooks.segmentQueue.enqueue(message.jobs).then(
          () => reply(),
          (error: unknown) => reply(error instanceof Error ? error.message : String(error)),
        );
      }
    }
  }

  /** A worker ended: what it was running fails, and the next invocation gets a new one (unless the stack is closing). */
  private exited(worker: Worker, code: number): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    const error = new Error(`the Lambda worker thread stopped (exit code ${code}) before answering`);
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    if (!this.closing)
      this.logger.error("Lambda worker thread stopped; the next invocation starts a new one", { code });
  }

  private async invoke(name: FunctionName, event: unknown): Promise<unknown> {
    if (this.closing) throw new Error("the local stack is closing");
    const worker = this.worker ?? (await (this.starting ?? this.spawn()));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      const message: FromStack = { type: "invoke", id, name, event };
      worker.postMessage(message);
    });
  }

  /** Stops the worker; call once nothing is invoking any more. */
  async close(): Promise<void> {
    this.closing = true;
    const worker = this.worker ?? (await this.starting?.catch(() => undefined));
    await worker?.terminate();
  }
}
