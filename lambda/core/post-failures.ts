/** Connection ids logged per kind of failure: enough to look one up, never a line per member. */
export const FAILURE_SAMPLE_IDS = 5;

/** Kinds of failure told apart in one broadcast's log line; any further kind is counted under `other`. */
export const FAILURE_KINDS_MAX = 10;

/** One kind of failed post, as logged: what failed, how often, and a few of the connections it failed for. */
export interface FailureKind {
  /** The error's name (`LimitExceededException`, `TimeoutError`, …), or `other` past {@link FAILURE_KINDS_MAX}. */
  error: string;
  /** API Gateway's HTTP status, when it answered. */
  status?: number;
  /** A network error's code (`ECONNRESET`, …). */
  code?: string;
  count: number;
  /** At most {@link FAILURE_SAMPLE_IDS} of the connections. */
  connectionIds: string[];
  /** The first such error's message, cut short. */
  message?: string;
}

const describe = (error: unknown): Omit<FailureKind, "count" | "connectionIds"> => {
  if (typeof error !== "object" || error === null) return { error: typeof error, message: String(error).slice(0, 200) };
  const { name, code, message, $metadata } = error as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  const status = $metadata?.httpStatusCode;
  return {
    error: typeof name === "string" ? name : "Error",
    ...(typeof status === "number" ? { status } : {}),
    ...(typeof code === "string" ? { code } : {}),
    ...(typeof message === "string" ? { message: message.slice(0, 200) } : {}),
  };
};

/**
 * Failed posts of one broadcast, counted by error (name, status, code) with a few sample connection ids, so that a
 * broadcast to thousands of members that all fail the same way logs one line, not thousands.
 */
export class PostFailures {
  private readonly kinds = new Map<string, FailureKind>();
  private total = 0;

  /** Counts one failed post. */
  add(connectionId: string, error: unknown): void {
    this.total++;
    const described = describe(error);
    let key = `${described.error}|${described.status ?? ""}|${described.code ?? ""}`;
    if (!this.kinds.has(key) && this.kinds.size >= FAILURE_KINDS_MAX) key = "other";
    let kind = this.kinds.get(key);
    if (!kind) {
      kind =
        key === "other"
          ? { error: "other", count: 0, connectionIds: [] }
          : { ...described, count: 0, connectionIds: [] };
      this.kinds.set(key, kind);
    }
    kind.count++;
    if (kind.connectionIds.length < FAILURE_SAMPLE_IDS) kind.connectionIds.push(connectionId);
  }

  /** Failed posts counted so far. */
  get count(): number {
    return this.total;
  }

  /** The kinds, most frequent first. */
  summary(): FailureKind[] {
    return [...this.kinds.values()].sort((a, b) => b.count - a.count);
  }
}
