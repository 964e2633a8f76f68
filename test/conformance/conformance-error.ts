/** A scenario's expectation that did not hold: what the protocol says, and what the deployment did. */
export class ConformanceError extends Error {
  override readonly name: string = "ConformanceError";
  constructor(
    message: string,
    readonly expected?: string,
    readonly received?: string,
  ) {
    super(message);
  }
}

/** A bounded wait that ran out: the scenario fails with what it waited for instead of hanging. */
export class WaitTimeoutError extends ConformanceError {
  override readonly name = "WaitTimeoutError";
}

/** Short JSON of a value for a report line; long strings are cut so a 4,000-character message stays readable. */
export function show(value: unknown, max = 300): string {
  const text = typeof value === "string" ? value : JSON.stringify(value, (_, item) => abbreviate(item));
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

const abbreviate = (item: unknown) =>
  typeof item === "string" && item.length > 60 ? `${item.slice(0, 40)}…(${item.length} chars)` : item;

/** Resolves with `promise`, or rejects with a `WaitTimeoutError` naming `what` after `timeoutMs`. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string, received?: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new WaitTimeoutError(`timed out after ${timeoutMs} ms`, what, received?.() ?? "nothing")),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
