/**
 * Values that cross between the stack's thread and the functions' worker thread. Structured cloning keeps plain data,
 * but turns an error of our own class into a bare `Error` without its name or fields (`$metadata`, `code`), and
 * refuses functions; these helpers carry errors whole and drop what cannot cross, so a log line or a handler's failure
 * reads on the other side as it did where it happened.
 */

const ERROR_TAG = "__localStackError";
const MAX_DEPTH = 8;

interface TaggedError {
  [ERROR_TAG]: { name: string; message: string; stack?: string; fields: Record<string, unknown> };
}

/** A copy of `value` that `postMessage` accepts, with errors tagged so {@link fromThread} can rebuild them. */
export function toThread(value: unknown, depth = 0): unknown {
  if (typeof value === "function" || typeof value === "symbol") return undefined;
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return "[too deep]";
  if (value instanceof Error) {
    const fields: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) fields[key] = toThread(field, depth + 1);
    if (value.cause !== undefined) fields.cause = toThread(value.cause, depth + 1);
    const tagged: TaggedError = {
      [ERROR_TAG]: { name: value.name, message: value.message, stack: value.stack, fields },
    };
    return tagged;
  }
  if (ArrayBuffer.isView(value) || value instanceof Date || value instanceof RegExp) return value;
  if (Array.isArray(value)) return value.map((item) => toThread(item, depth + 1));
  if (value instanceof Map) return new Map([...value].map(([key, item]) => [key, toThread(item, depth + 1)]));
  if (value instanceof Set) return new Set([...value].map((item) => toThread(item, depth + 1)));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = toThread(item, depth + 1);
  return copy;
}

/** The value {@link toThread} carried, with its errors rebuilt as `Error`s of the same name, message, stack and fields. */
export function fromThread(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (ERROR_TAG in value) {
    const { name, message, stack, fields } = (value as TaggedError)[ERROR_TAG];
    const error = new Error(message);
    Object.defineProperty(error, "name", { value: name, enumerable: false, writable: true, configurable: true });
    if (stack !== undefined) error.stack = stack;
    for (const [key, field] of Object.entries(fields)) {
      if (key !== "name") (error as unknown as Record<string, unknown>)[key] = fromThread(field);
    }
    return error;
  }
  if (ArrayBuffer.isView(value) || value instanceof Date || value instanceof RegExp) return value;
  if (Array.isArray(value)) return value.map(fromThread);
  if (value instanceof Map) return new Map([...value].map(([key, item]) => [key, fromThread(item)]));
  if (value instanceof Set) return new Set([...value].map(fromThread));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = fromThread(item);
  return copy;
}
