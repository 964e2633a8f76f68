/**
 * The DynamoDB schema, defined once: CDK (`infra/`), the local stack and the tests all build their tables from this.
 * Times stored for TTL are epoch *seconds*, as DynamoDB's TTL requires.
 */

/** A key attribute and its DynamoDB scalar type. */
export interface KeyAttribute {
  readonly name: string;
  readonly type: "S" | "N";
}

/** connectionId → channel, username, connectedAt, expiresAt; queried by channel through `channelIndex`. */
export const connectionsTable = {
  partitionKey: { name: "connectionId", type: "S" },
  /** The channel index: membership of one channel in a query, never a scan. */
  channelIndex: {
    indexName: "byChannel",
    partitionKey: { name: "channel", type: "S" },
    sortKey: { name: "connectionId", type: "S" },
    /** Only what a broadcast and `who` need, so the index stays small and cheap to read. */
    nonKeyAttributes: ["username", "connectedAt", "expiresAt"],
  },
  ttlAttribute: "expiresAt",
} as const satisfies {
  partitionKey: KeyAttribute;
  channelIndex: {
    indexName: string;
    partitionKey: KeyAttribute;
    sortKey: KeyAttribute;
    nonKeyAttributes: readonly string[];
  };
  ttlAttribute: string;
};

/**
 * Chat history: channel (or a direct-message conversation, `dm#…`) → messages keyed by `sk` = `${timestamp}#${id}`
 * (`history-keys.ts`), the order in which history is paged.
 */
export const historyTable = {
  partitionKey: { name: "channel", type: "S" },
  sortKey: { name: "sk", type: "S" },
  ttlAttribute: "expiresAt",
} as const satisfies { partitionKey: KeyAttribute; sortKey: KeyAttribute; ttlAttribute: string };

/**
 * Presence: who is in a channel, by user. One item per present user (`user` = the NFC name) holding the set of that
 * user's connections in the channel, and one item per channel (`user` = {@link presenceTable.countKey}, which no
 * username can be: `#` is not allowed in names) holding how many users are present. A user's item changes atomically,
 * so its first connection arriving and its last leaving are each seen by exactly one caller.
 */
export const presenceTable = {
  partitionKey: { name: "channel", type: "S" },
  sortKey: { name: "user", type: "S" },
  /** The sort key of a channel's occupancy count; below every username in the key order. */
  countKey: "#count",
  ttlAttribute: "expiresAt",
} as const satisfies { partitionKey: KeyAttribute; sortKey: KeyAttribute; countKey: string; ttlAttribute: string };

/**
 * Rates and per-user bounds (PROTOCOL v2 "Names and limits"): one item per counter, keyed by what it counts and its
 * window (`rate-store.ts`), e.g. a user's chat messages in one 10-second window; and one item per user holding their
 * live connections. Every item expires (TTL) soon after it stops mattering.
 */
export const ratesTable = {
  partitionKey: { name: "key", type: "S" },
  ttlAttribute: "expiresAt",
} as const satisfies { partitionKey: KeyAttribute; ttlAttribute: string };

/**
 * Members of private channels (PROTOCOL v2 §7): one item per member (`role`: `owner` or `member`), and one per channel
 * under {@link membersTable.ownerKey} (which no username can be) naming its owner: created by the first user to join,
 * with a conditional put, so a channel has one owner however many first joins race.
 */
export const membersTable = {
  partitionKey: { name: "channel", type: "S" },
  sortKey: { name: "user", type: "S" },
  ownerKey: "#owner",
} as const satisfies { partitionKey: KeyAttribute; sortKey: KeyAttribute; ownerKey: string };
