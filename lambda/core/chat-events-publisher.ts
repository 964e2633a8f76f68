import { type EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import { jitteredDelay, sleep } from "./backoff.ts";
import { CHAT_EVENT_SOURCE, type ChatEvent } from "./chat-events.ts";
import { type CoreLogger, silentLogger } from "./logger.ts";

/** PutEvents' bounds (AWS doc "Amazon EventBridge quotas"; "Calculating PutEvents event entry size"). */
export const putEventsLimits = {
  /** Entries per PutEvents call. */
  entries: 10,
  /** The entries of one call must total *less* than 256 KB. */
  bytes: 256 * 1024 - 1,
  /** Calls per batch: the first and the rounds that send its failed entries again. */
  attempts: 4,
  /** Base of the jittered exponential backoff between those rounds. */
  backoffMs: 100,
} as const;

/**
 * Entry error codes that will never succeed for that entry, whatever the retries: the entry is dropped and logged.
 * Any other code (throttling, internal failures, missing permissions) is worth trying again later.
 */
const REFUSED_FOR_GOOD = new Set(["MalformedDetail", "InvalidArgument"]);

/** An event and the key of what it came from (a stream record's sequence number). */
export interface KeyedEvent {
  readonly key: string;
  readonly event: ChatEvent;
}

/** What {@link ChatEventPublisher.publish} did. */
export interface PublishOutcome {
  /** Events the bus accepted. */
  readonly published: number;
  /** Events the bus refused for good (malformed), dropped. */
  readonly dropped: number;
  /**
   * The key of the first event not published although it may be later (throttled, failing, unreachable), from which
   * the caller must try again; none were sent after its batch. `undefined` when nothing is left to do.
   */
  readonly failedFrom?: string;
}

/** The PutEvents entry of an event on `busName`; `Time` is the event's own timestamp. */
export function eventEntry(event: ChatEvent, busName: string): PutEventsRequestEntry {
  return {
    EventBusName: busName,
    Source: CHAT_EVENT_SOURCE,
    DetailType: event.detailType,
    Detail: JSON.stringify(event.detail),
    Time: new Date(event.detail.timestamp),
  };
}

/** An entry's size as EventBridge counts it: `Time` 14 bytes, and the UTF-8 bytes of the rest (bus name excluded). */
export function entrySize(entry: PutEventsRequestEntry): number {
  const bytes = (text: string | undefined) => (text === undefined ? 0 : Buffer.byteLength(text));
  return (
    (entry.Time ? 14 : 0) +
    bytes(entry.Source) +
    bytes(entry.DetailType) +
    bytes(entry.Detail) +
    (entry.Resources ?? []).reduce((sum, resource) => sum + bytes(resource), 0)
  );
}

/** Groups items, in order, into PutEvents calls of at most 10 entries totalling less than 256 KB. */
export function putEventsBatches<T>(items: readonly T[], size: (item: T) => number): T[][] {
  const batches: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const itemBytes = size(item);
    if (batch.length >= putEventsLimits.entries || (batch.length > 0 && bytes + itemBytes > putEventsLimits.bytes)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(item);
    bytes += itemBytes;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** Options of a {@link ChatEventPublisher}. */
export interface ChatEventPublisherOptions {
  readonly logger?: CoreLogger;
  /** Waits between rounds. Default: a real timer. */
  readonly wait?: (ms: number) => Promise<void>;
  /** Calls per batch. Default: `putEventsLimits.attempts`. */
  readonly attempts?: number;
}

interface Pending {
  readonly key: string;
  readonly entry: PutEventsRequestEntry;
}

/**
 * Puts chat events on an EventBridge bus in order, in batches within PutEvents' limits. Entries a call reports as
 * failed are sent again with backoff; entries refused as malformed are dropped and logged. A batch still failing
 * after every round stops the publishing there and names its first failed event, so that the stream's partial
 * batch response makes Lambda retry from it (events may then arrive twice, never not at all).
 */
export class ChatEventPublisher {
  private readonly logger: CoreLogger;
  private readonly wait: (ms: number) => Promise<void>;
  private readonly attempts: number;

  constructor(
    private readonly client: EventBridgeClient,
    readonly busName: string,
    options: ChatEventPublisherOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.wait = options.wait ?? sleep;
    this.attempts = options.attempts ?? putEventsLimits.attempts;
  }

  async publish(events: readonly KeyedEvent[]): Promise<PublishOutcome> {
    const pending = events.map(({ key, event }) => ({ key, entry: eventEntry(event, this.busName) }));
    let published = 0;
    let dropped = 0;
    for (const batch of putEventsBatches(pending, (item) => entrySize(item.entry))) {
      const sent = await this.sendBatch(batch);
      published += sent.published;
      dropped += sent.dropped;
      const [first] = sent.failed;
      if (first) return { published, dropped, failedFrom: first.key };
    }
    return { published, dropped };
  }

  /** One batch, its failed entries sent again for up to `attempts` calls; what is still failing comes back, in order. */
  private async sendBatch(batch: Pending[]): Promise<{ published: number; dropped: number; failed: Pending[] }> {
    let left = batch;
    let published = 0;
    let dropped = 0;
    for (let attempt = 0; attempt < this.attempts && left.length > 0; attempt++) {
      if (attempt > 0) await this.wait(jitteredDelay(attempt, putEventsLimits.backoffMs));
      let results: { ErrorCode?: string; ErrorMessage?: string }[];
      try {
        const answer = await this.client.send(new PutEventsCommand({ Entries: left.map((item) => item.entry) }));
        results = answer.Entries ?? [];
      } catch (error) {
        // The SDK has retried what it could; the whole batch waits for the next round.
        this.logger.warn("PutEvents failed", { attempt, entries: left.length, error });
        continue;
      }
      const again: Pending[] = [];
      left.forEach((item, i) => {
        const code = results[i]?.ErrorCode;
        if (results[i] === undefined) again.push(item);
        else if (code === undefined) published++;
        else if (REFUSED_FOR_GOOD.has(code)) {
          dropped++;
          this.logger.error("chat event refused by EventBridge, dropped", {
            key: item.key,
            code,
            message: results[i]?.ErrorMessage,
          });
        } else again.push(item);
      });
      left = again;
    }
    if (left.length > 0) this.logger.warn("chat events not published yet", { entries: left.length });
    return { published, dropped, failed: left };
  }
}
