/**
 * Every bound of the chat in one place. PROTOCOL.md's "Names and limits" table is the source of the protocol
 * values; the AWS values come from API Gateway's and DynamoDB's published quotas.
 */
export const limits = {
  /** Username length in code points, after trimming. */
  usernameMaxChars: 32,
  /** Channel name length. */
  channelMaxChars: 64,
  /** Chat message length in code points, after trimming. */
  messageMaxChars: 4_000,
  /** API Gateway closes a connection with 1009 when one frame is larger than this (a message may be 128 KB, in frames). */
  frameMaxBytes: 32 * 1024,
  /**
   * Every frame the server posts, encoded (UTF-8 bytes of its JSON): API Gateway refuses a larger message with 413
   * and the client gets nothing ("Amazon API Gateway quotas for configuring and running a WebSocket API", 128 KB).
   */
  serverFrameMaxBytes: 128 * 1024,
  /** Session request bodies over this size answer 413. */
  sessionBodyMaxBytes: 16 * 1024,
  /** Chat messages (`send`, plain text) accepted per user, across all their connections, within one rate window. */
  rateMaxMessages: 20,
  /** Other requests (`ping`, `who`, `history`, and frames refused as malformed) per user within one rate window. */
  rateMaxRequests: 20,
  /** Length of the rate window; windows are fixed and aligned to the epoch (see `rate-store.ts`). */
  rateWindowMs: 10_000,
  /** A connection that gets this many `rate_limited` answers within one refusal window is closed by the server. */
  refusalsBeforeClose: 100,
  /** Refusals after which the server closes the connection again, should its first close not have taken. */
  refusalsBetweenCloseRetries: 50,
  /** The refusal window: a minute, fixed and aligned to the epoch like the rate's. */
  refusalWindowMs: 60_000,
  /** Live connections per user; the next handshake is refused with 429. */
  connectionsPerUser: 10,
  /**
   * How long a connection closed for ignoring `rate_limited` keeps its place among its user's `connectionsPerUser`,
   * so that reconnecting at once does not start the count over (see `rateLimited` in chat.ts).
   */
  closedPlaceKeptMs: 60_000,
  /** New sessions per source IP per session-rate window, unless the deployment says otherwise (`sessionRate`). */
  sessionsPerMinute: 60,
  /** The session rate's window: a minute, fixed and aligned to the epoch. */
  sessionRateWindowMs: 60_000,
  /** Default session token lifetime. */
  tokenTtlSeconds: 3_600,
  /** Messages per history page, at most (a page also stays within `serverFrameMaxBytes`). */
  historySize: 50,
  /** Length of the `id` of a history cursor (`before`, `after`); message ids are UUIDs, 36 characters. */
  historyCursorIdMaxChars: 128,
  /** Users listed in a presence answer, at most; `count` gives them all. */
  presenceListMax: 100,
  /**
   * Default of the largest channel (in users) whose members get "connected"/"disconnected" notices. Every connection
   * lives at most 2 hours, so notices to every member cost about N²/3,600 posts per second: at 6,000 members that is
   * the account's whole default management API quota. Beyond this size no notices go out (`CHAT_PRESENCE_LIMIT`).
   */
  presenceNoticeLimit: 100,
  /**
   * A kept count this far over the presence limit is checked against the users' items before a notice is dropped
   * (lambda/core/chat.ts `announce`); further over, the channel is taken as large and nothing is read.
   */
  presenceRecountMargin: 10,
  /** How long a history message is kept. */
  historyTtlSeconds: 24 * 3_600,
  /** API Gateway cuts every connection at 2 hours; the record outlives that a little so a missed $disconnect is cleaned. */
  connectionTtlSeconds: 2 * 3_600 + 10 * 60,
  /**
   * A member this new may still be inside its `$connect` (API Gateway's integration timeout is 29 s), where posts to
   * it answer 410 although it is about to be live: such a 410 does not make it stale.
   */
  connectGraceMs: 30_000,
  /**
   * A user whose ten live connections all answered GetConnection is refused by that function instance with no call for
   * this long (longer while it has places kept for flooding): a client looping handshakes would otherwise cost a
   * conditional update, a read and ten GetConnection calls each.
   */
  fullAliveRememberedMs: 5_000,
  /**
   * Posts in flight during one broadcast. From bench/ (fan-out sweep at 20 ms per post, one process): the lean poster
   * is latency-bound up to 128 in flight (~5,800/s) and peaks at 256 (~7,200/s, 0.64 of raw http); 512 adds nothing.
   * 256 posts of 20 ms can exceed API Gateway's account-wide 10,000/s, which throttling (429) and the retry rounds absorb.
   */
  broadcastConcurrency: 256,
  /** Further rounds for posts that failed for a passing reason (429, 5xx, network), after the SDK's own retries. */
  broadcastRetryRounds: 2,
  /** Base delay of the jittered backoff before each of those rounds (API Gateway throttling clears in about a second). */
  broadcastRetryBackoffMs: 250,
  /** Attempts per DynamoDB call, the SDK's standard retry strategy backing off between them (default 3). */
  dynamoMaxAttempts: 6,
  /** Attempts per PostToConnection call in the SDK (its default). */
  postMaxAttempts: 3,
  /**
   * A channel with more members than this is not posted to by the handler that got the message: its membership is
   * split into segments handed to broadcast workers, so no single function has to serve it within its deadline.
   */
  shardThreshold: 2_000,
  /** Members per segment; one segment's job (ids and join times) stays far below SQS's 256 KiB message limit. */
  segmentSize: 500,
  /**
   * Receives of a segment before SQS moves it to the dead-letter queue. AWS advises at least 5 for a Lambda event
   * source, so throttled or briefly failing invocations do not send messages there (AWS doc "Using Lambda with Amazon
   * SQS"). The deployed queue and the local one both use it.
   */
  segmentMaxReceives: 5,
  /** The broadcast worker function's timeout, deployed and local: 500 posts take well under a second, retries included. */
  segmentWorkerTimeoutSeconds: 60,
  /**
   * Times a segment's remainder may be queued again as a new message after its invocation ran out of time. A new
   * message starts at receive count 0, so without a bound a segment that never fits would circle until the queue's
   * retention ends, never reaching the dead-letter queue; past it the record is returned to SQS instead, and
   * `segmentMaxReceives` applies.
   */
  segmentMaxHops: 5,
  /** Departures from presence made at once for members a broadcast found gone (2–3 DynamoDB calls each). */
  departConcurrency: 16,
  /** SQS takes at most 10 messages and 256 KiB per SendMessageBatch. */
  segmentBatchMessages: 10,
  segmentBatchBytes: 250 * 1024,
  /** Items per channel-index query page (DynamoDB also stops a page at 1 MB). */
  membersPageSize: 1_000,
  /** BatchWriteItem takes at most 25 requests. */
  batchWriteSize: 25,
  /** Attempts for a batch of deletes whose items come back unprocessed. */
  batchWriteAttempts: 6,
  /** Base delay of the jittered exponential backoff between those attempts. */
  batchWriteBackoffMs: 25,
} as const;

/**
 * The largest `CHAT_PRESENCE_LIMIT` a deployment may set: a channel of more connections than `shardThreshold` is
 * delivered by broadcast workers, which send no notices, and a user holds at most `connectionsPerUser`, so every
 * channel of at most this many users is posted to by the function that handles the join or leave.
 */
export const presenceLimitMax = limits.shardThreshold / limits.connectionsPerUser;
