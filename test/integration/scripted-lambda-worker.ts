/**
 * A stand-in for the functions' worker thread (local/lambda-worker.ts), speaking the same messages, whose behaviour
 * each event scripts: answer, throw a named error, log, or end the thread mid-invocation.
 */
import { parentPort } from "node:worker_threads";
import type { FromStack, ToStack } from "../../local/lambda-worker-messages.ts";
import { toThread } from "../../local/thread-values.ts";

class ScriptedFailure extends Error {
  override readonly name = "ScriptedFailure";
  readonly $metadata = { httpStatusCode: 429 };
}

const port = parentPort;
if (!port) throw new Error("runs as a worker thread");
const send = (message: ToStack) => port.postMessage(message);

port.on("message", (message: FromStack) => {
  if (message.type !== "invoke") return;
  const { id, name, event } = message;
  const script = event as { do: "answer" | "throw" | "log" | "exit" | "hang" };
  if (script.do === "answer") send({ type: "result", id, value: { statusCode: 200, body: name } });
  if (script.do === "throw") send({ type: "failed", id, error: toThread(new ScriptedFailure("scripted")) });
  if (script.do === "log") {
    const extra = [{ error: new ScriptedFailure("logged"), skipped: () => 1 }];
    send({ type: "log", level: "error", message: "scripted log", extra: toThread(extra) as Record<string, unknown>[] });
    send({ type: "result", id, value: { statusCode: 200 } });
  }
  if (script.do === "exit") process.exit(3);
});
send({ type: "ready" });
