import {
  chatEventOf,
  MalformedRecordError,
  type StreamRecord,
  type StreamTable,
  streamTableOf,
} from "../core/chat-events.ts";
import type { KeyedEvent, PublishOutcome } from "../core/chat-events-publisher.ts";
import type { CoreLogger } from "../core/logger.ts";

/** A DynamoDB Streams event as Lambda delivers it (the part read). */
export interface DynamoStreamEvent {
  Records: StreamRecord[];
}

/** The partial batch response of a stream source: Lambda retries from the lowest sequence number named. */
export interface StreamBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** Dependencies of the events function. */
export interface ChatEventsDeps {
  /** Puts events on the bus. */
  readonly publisher: { publish(events: readonly KeyedEvent[]): Promise<PublishOutcome> };
  /** The names of the tables whose streams feed the function. */
  readonly tables: Readonly<Record<StreamTable, string>>;
  readonly logger: CoreLogger;
}

/**
 * The events function: a batch of stream records of the history and presence tables, mapped to chat events
 * (`lambda/core/chat-events.ts`) and put on the bus in order. A record that should make an event but is malformed is
 * logged and skipped, never retried forever; events the bus cannot take now make a partial batch response naming
 * the first of them, so Lambda retries from there (and bisects, and finally hands the batch to the on-failure
 * destination). Delivery to members never waits on any of this: it reads the streams after the writes.
 */
export function createChatEventsHandler(deps: ChatEventsDeps) {
  return async (event: DynamoStreamEvent): Promise<StreamBatchResponse> => {
    const events: KeyedEvent[] = [];
    for (const record of event.Records ?? []) {
      const table = streamTableOf(record, deps.tables);
      if (table === undefined) {
        deps.logger.warn("stream record of an unknown table skipped", { source: record.eventSourceARN });
        continue;
      }
      try {
        const chatEvent = chatEventOf(table, record);
        if (chatEvent) events.push({ key: record.dynamodb?.SequenceNumber ?? "", event: chatEvent });
      } catch (error) {
        if (!(error instanceof MalformedRecordError)) throw error;
        deps.logger.error("malformed stream record skipped", { table, eventID: record.eventID, error });
      }
    }
    if (events.length === 0) return { batchItemFailures: [] };
    const outcome = await deps.publisher.publish(events);
    deps.logger.info("chat events published", { records: event.Records.length, ...outcome });
    return { batchItemFailures: outcome.failedFrom === undefined ? [] : [{ itemIdentifier: outcome.failedFrom }] };
  };
}
