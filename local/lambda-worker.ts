/**
 * The functions' worker thread: Lambda's side of the local stack, apart from API Gateway's. It builds the chat's
 * functions once (a cold start) and runs each event the stack's thread sends it, as Lambda runs invocations on
 * instances that never share API Gateway's CPU. Logs and large channels' segments go back to the stack's thread,
 * which owns the logger and the queue (SQS is a service of its own in the cloud).
 */
import { parentPort, workerData } from "node:worker_threads";
import type { CoreLogger } from "../lambda/core/logger.ts";
import type { SegmentJob } from "../lambda/core/sharded-fanout.ts";
import { createLambdaFunctions, type FunctionConfig, type LambdaFunctions } from "./lambda-functions.ts";
import type { FromStack, ToStack } from "./lambda-worker-messages.ts";
import { toThread } from "./thread-values.ts";

const port = parentPort;
if (!port) throw new Error("lambda-worker.ts runs as a worker thread of the local stack");
const send = (message: ToStack) => port.postMessage(message);

const log =
  (level: "info" | "warn" | "error") =>
  (message: string, ...extra: Record<string, unknown>[]) =>
    send({ type: "log", level, message, extra: toThread(extra) as Record<string, unknown>[] });
const logger: CoreLogger = { info: log("info"), warn: log("warn"), error: log("error") };

let nextEnqueue = 0;
const enqueues = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
const segmentQueue = {
  enqueue: (jobs: SegmentJob[]) =>
    new Promise<void>((resolve, reject) => {
      const id = nextEnqueue++;
      enqueues.set(id, { resolve, reject });
      send({ type: "enqueue", id, jobs });
    }),
};

let functions: LambdaFunctions | undefined;

async function invoke(id: number, name: keyof LambdaFunctions, event: unknown): Promise<void> {
  try {
    const handler = functions?.[name];
    if (!handler) throw new Error(`no function named ${name}`);
    send({ type: "result", id, value: await handler(event) });
  } catch (error) {
    send({ type: "failed", id, error: toThread(error) });
  }
}

port.on("message", (message: FromStack) => {
  if (message.type === "invoke") void invoke(message.id, message.name, message.event);
  else if (message.type === "enqueued") {
    const waiter = enqueues.get(message.id);
    enqueues.delete(message.id);
    if (message.error === undefined) waiter?.resolve();
    else waiter?.reject(new Error(message.error));
  }
});

createLambdaFunctions(workerData as FunctionConfig, { logger, segmentQueue }).then(
  (built) => {
    functions = built;
    send({ type: "ready" });
  },
  (error: unknown) => send({ type: "start-failed", error: toThread(error) }),
);
