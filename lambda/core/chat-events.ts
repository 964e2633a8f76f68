import { historyTable, presenceTable } from "./tables.ts";

/*
 * Events out (PROTOCOL §8): what a DynamoDB stream record of the history or presence table means to a backend. The
 * deployed events function and the local stack's emulated stream both map records here, so they cannot disagree.
 */

/** The `source` of every chat event on the bus; a rule matches it (`{"source":["chat"]}`). */
export const CHAT_EVENT_SOURCE = "chat";

/** The events' `detail-type`s. */
export const chatEventTypes = {
  joined: "member.joined",
  left: "member.left",
  message: "message.sent",
} as const;

export type ChatEventType = (typeof chatEventTypes)[keyof typeof chatEventTypes];

/** An event's `detail`: who did what where. `message` only for `message.sent`. */
export interface ChatEventDetail {
  readonly channel: string;
  /** The member who joined or left; for a message, its sender (`<server>` for one published without `from`). */
  readonly username: string;
  /** The message's id; for a join or a leave, the stream record's id, the same each time it is delivered again. */
  readonly id: string;
  /** Epoch milliseconds: the message's own timestamp; for a join or leave, when the change reached the stream. */
  readonly timestamp: number;
  readonly message?: string;
}

/** One event for the bus. */
export interface ChatEvent {
  readonly detailType: ChatEventType;
  readonly detail: ChatEventDetail;
}

/** A DynamoDB attribute value as stream records carry it; only strings and numbers are read. */
export type StreamAttribute = { S?: string; N?: string } & Record<string, unknown>;
export type StreamImage = Record<string, StreamAttribute>;

/** The part of a DynamoDB stream record (as Lambda delivers it) that the mapping reads. */
export interface StreamRecord {
  eventID?: string;
  eventName?: "INSERT" | "MODIFY" | "REMOVE" | string;
  eventVersion?: string;
  eventSource?: string;
  awsRegion?: string;
  eventSourceARN?: string;
  dynamodb?: {
    ApproximateCreationDateTime?: number;
    Keys?: StreamImage;
    NewImage?: StreamImage;
    OldImage?: StreamImage;
    SequenceNumber?: string;
    SizeBytes?: number;
    StreamViewType?: string;
  };
}

/** Which of the chat's tables a stream belongs to. */
export type StreamTable = "history" | "presence";

/**
 * What each table's stream must carry (its view type) and which of its records can make an event: the history's
 * inserts need the new item (the text), the presence's inserts and removes only the keys. CDK enables the streams and
 * filters the event sources from this; the local stack emulates the same streams.
 */
export const chatEventStreams = {
  history: { viewType: "NEW_IMAGE", eventNames: ["INSERT"] },
  presence: { viewType: "KEYS_ONLY", eventNames: ["INSERT", "REMOVE"] },
} as const satisfies Record<StreamTable, { viewType: string; eventNames: readonly string[] }>;

/** A stream record that should have made an event but lacks what it needs: skipped, and logged by the caller. */
export class MalformedRecordError extends Error {
  override readonly name = "MalformedRecordError";
}

function text(image: StreamImage | undefined, name: string): string {
  const value = image?.[name]?.S;
  if (typeof value !== "string") throw new MalformedRecordError(`stream record lacks the string ${name}`);
  return value;
}

function number(image: StreamImage | undefined, name: string): number {
  const value = Number(image?.[name]?.N);
  if (image?.[name]?.N === undefined || !Number.isFinite(value)) {
    throw new MalformedRecordError(`stream record lacks the number ${name}`);
  }
  return value;
}

/**
 * A message stored in history: `message.sent`, from the new item's own fields. A direct message (kept in the same
 * table, in its pair's conversation) is no channel's message and makes no event: what two users say to each other
 * is not handed to every rule on the bus (docs/protocol.md §7).
 */
function messageEvent(record: StreamRecord): ChatEvent | undefined {
  const item = record.dynamodb?.NewImage;
  if (item?.type?.S === "dm") return undefined;
  return {
    detailType: chatEventTypes.message,
    detail: {
      channel: text(item, "channel"),
      username: text(item, "from"),
      id: text(item, "id"),
      timestamp: number(item, "timestamp"),
      message: text(item, "message"),
    },
  };
}

/**
 * A user's presence item created (their first connection arrived) or deleted (their last left, or DynamoDB's TTL
 * removed it): `member.joined` or `member.left`. The channel's count item is not a user.
 */
function memberEvent(record: StreamRecord): ChatEvent | undefined {
  const keys = record.dynamodb?.Keys;
  const user = text(keys, presenceTable.sortKey.name);
  if (user === presenceTable.countKey) return undefined;
  const seconds = record.dynamodb?.ApproximateCreationDateTime;
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) {
    throw new MalformedRecordError("stream record lacks ApproximateCreationDateTime");
  }
  return {
    detailType: record.eventName === "INSERT" ? chatEventTypes.joined : chatEventTypes.left,
    detail: {
      channel: text(keys, presenceTable.partitionKey.name),
      username: user,
      id: record.eventID ?? text(undefined, "eventID"),
      // DynamoDB Streams gives epoch seconds.
      timestamp: Math.round(seconds * 1000),
    },
  };
}

/**
 * The event a stream record of `table` means, or `undefined` when it means none (a change to an existing item, the
 * presence count, a removed message). Throws {@link MalformedRecordError} for a record that should mean one but
 * lacks a field.
 */
export function chatEventOf(table: StreamTable, record: StreamRecord): ChatEvent | undefined {
  const names: readonly string[] = chatEventStreams[table].eventNames;
  if (record.eventName === undefined || !names.includes(record.eventName)) return undefined;
  return table === "history" ? messageEvent(record) : memberEvent(record);
}

/**
 * The table a stream record comes from, by the table name in its `eventSourceARN`
 * (`arn:aws:dynamodb:{region}:{account}:table/{name}/stream/{label}`), or `undefined` for another table.
 */
export function streamTableOf(
  record: Pick<StreamRecord, "eventSourceARN">,
  tables: Readonly<Record<StreamTable, string>>,
): StreamTable | undefined {
  const name = /:table\/([^/]+)\/stream\//.exec(record.eventSourceARN ?? "")?.[1];
  if (name === tables.history) return "history";
  if (name === tables.presence) return "presence";
  return undefined;
}

/** The key attributes of each table's items, as stream records carry them in `Keys`. */
export const streamKeys = {
  history: [historyTable.partitionKey.name, historyTable.sortKey.name],
  presence: [presenceTable.partitionKey.name, presenceTable.sortKey.name],
} as const satisfies Record<StreamTable, readonly string[]>;

/**
 * Whether a change to the item with these keys can ever make an event: any but a channel's presence count, or a
 * direct message (whose partition is its conversation's, `dm#…`, which no channel name can be).
 */
export const mayMakeEvents = (table: StreamTable, keys: StreamImage): boolean =>
  table === "presence"
    ? keys[presenceTable.sortKey.name]?.S !== presenceTable.countKey
    : !keys[historyTable.partitionKey.name]?.S?.startsWith("dm#");
