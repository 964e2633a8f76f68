import type { SegmentJob } from "../lambda/core/sharded-fanout.ts";
import type { FunctionName } from "./lambda-functions.ts";

/** What the stack's thread sends the functions' worker thread. */
export type FromStack =
  | { type: "invoke"; id: number; name: FunctionName; event: unknown }
  /** The answer to an `enqueue`: accepted, or the error's message. */
  | { type: "enqueued"; id: number; error?: string };

/** What the functions' worker thread sends back. Errors and log details travel as `toThread` made them. */
export type ToStack =
  | { type: "ready" }
  | { type: "start-failed"; error: unknown }
  | { type: "result"; id: number; value: unknown }
  | { type: "failed"; id: number; error: unknown }
  | { type: "log"; level: "info" | "warn" | "error"; message: string; extra: Record<string, unknown>[] }
  | { type: "enqueue"; id: number; jobs: SegmentJob[] };
