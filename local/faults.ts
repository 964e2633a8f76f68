/**
 * Fault injection for the local stack: what AWS does to a chat on a bad day, at a rate you choose, so tests can show
 * what the chat survives. Every knob defaults to "off"; all of them can change while the stack runs.
 */
export interface FaultOptions {
  /** Share (0–1) of DynamoDB requests answered 400 `ProvisionedThroughputExceededException`. */
  dynamoThrottleRate?: number;
  /** Share (0–1) of PostToConnection calls answered 429 `LimitExceededException`. */
  postThrottleRate?: number;
  /** Connections whose posts answer 410 `GoneException` although they are open (a lost `$disconnect`, say). */
  goneConnections?: Set<string>;
  /** Milliseconds added before each management API answer (a round trip to API Gateway). */
  managementLatencyMs?: number;
  /** Milliseconds added before each DynamoDB answer. */
  dynamoLatencyMs?: number;
  /** Random numbers in [0, 1); give a seeded one for repeatable runs. Default: `Math.random`. */
  random?: () => number;
}

/** What was injected so far, for a test's report. */
export interface FaultCounts {
  dynamoThrottled: number;
  postThrottled: number;
  postGone: number;
}

/** The live fault settings of one stack, and the counts of what they injected. */
export class Faults {
  readonly counts: FaultCounts = { dynamoThrottled: 0, postThrottled: 0, postGone: 0 };

  constructor(public options: FaultOptions = {}) {}

  private roll(rate: number | undefined): boolean {
    return rate !== undefined && rate > 0 && (this.options.random ?? Math.random)() < rate;
  }

  /** Whether this DynamoDB request is throttled. */
  throttleDynamo(): boolean {
    const throttled = this.roll(this.options.dynamoThrottleRate);
    if (throttled) this.counts.dynamoThrottled++;
    return throttled;
  }

  /** What this post gets instead of a delivery, if anything. */
  postFault(connectionId: string): "gone" | "throttled" | undefined {
    if (this.options.goneConnections?.has(connectionId)) {
      this.counts.postGone++;
      return "gone";
    }
    if (this.roll(this.options.postThrottleRate)) {
      this.counts.postThrottled++;
      return "throttled";
    }
    return undefined;
  }

  /** Waits the configured latency, if any. */
  async delay(kind: "management" | "dynamo"): Promise<void> {
    const ms = kind === "management" ? this.options.managementLatencyMs : this.options.dynamoLatencyMs;
    if (ms && ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  }
}
