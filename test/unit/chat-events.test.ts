import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import {
  CHAT_EVENT_SOURCE,
  chatEventOf,
  MalformedRecordError,
  mayMakeEvents,
  type StreamRecord,
  streamTableOf,
} from "../../lambda/core/chat-events.ts";
import { ChatEventPublisher } from "../../lambda/core/chat-events-publisher.ts";
import { createChatEventsHandler } from "../../lambda/handlers/chat-events.ts";
import { HISTORY_TABLE, NOW, PRESENCE_TABLE, recordingLogger } from "../fixtures.ts";

const eventBridge = mockClient(EventBridgeClient);
afterEach(() => eventBridge.reset());

const arn = (table: string) => `arn:aws:dynamodb:eu-west-1:123456789012:table/${table}/stream/2026-12-02T00:00:00.000`;
let sequence = 0;

/** A history INSERT as Lambda delivers it from a NEW_IMAGE stream. */
const messageRecord = (id: string, message = "hi", from = "Lucy"): StreamRecord => ({
  eventID: `ev-${id}`,
  eventName: "INSERT",
  eventSourceARN: arn(HISTORY_TABLE),
  dynamodb: {
    ApproximateCreationDateTime: NOW / 1000,
    Keys: { channel: { S: "support" }, sk: { S: `k-${id}` } },
    NewImage: {
      channel: { S: "support" },
      sk: { S: `k-${id}` },
      id: { S: id },
      from: { S: from },
      message: { S: message },
      timestamp: { N: String(NOW) },
      expiresAt: { N: String(NOW / 1000 + 86_400) },
    },
    SequenceNumber: String(++sequence).padStart(21, "0"),
  },
});

/** A presence change as Lambda delivers it from a KEYS_ONLY stream. */
const presenceRecord = (eventName: "INSERT" | "MODIFY" | "REMOVE", user: string): StreamRecord => ({
  eventID: `ev-${eventName}-${user}`,
  eventName,
  eventSourceARN: arn(PRESENCE_TABLE),
  dynamodb: {
    ApproximateCreationDateTime: 1_764_082_801,
    Keys: { channel: { S: "support" }, user: { S: user } },
    SequenceNumber: String(++sequence).padStart(21, "0"),
  },
});

describe("chatEventOf", () => {
  it("makes message.sent of a message stored in history, with its own id, sender, text and timestamp", () => {
    expect(chatEventOf("history", messageRecord("m1", "deploy done", "Billing"))).toEqual({
      detailType: "message.sent",
      detail: { channel: "support", username: "Billing", id: "m1", timestamp: NOW, message: "deploy done" },
    });
  });

  it("makes member.joined of a user's presence item created, and member.left of one deleted", () => {
    expect(chatEventOf("presence", presenceRecord("INSERT", "Zoë"))).toEqual({
      detailType: "member.joined",
      detail: { channel: "support", username: "Zoë", id: "ev-INSERT-Zoë", timestamp: 1_764_082_801_000 },
    });
    expect(chatEventOf("presence", presenceRecord("REMOVE", "Zoë"))).toMatchObject({
      detailType: "member.left",
      detail: { username: "Zoë", id: "ev-REMOVE-Zoë" },
    });
  });

  it("makes nothing of a changed item, a channel's count or a removed message", () => {
    expect(chatEventOf("presence", presenceRecord("MODIFY", "Lucy"))).toBeUndefined();
    expect(chatEventOf("presence", presenceRecord("INSERT", "#count"))).toBeUndefined();
    expect(chatEventOf("presence", presenceRecord("REMOVE", "#count"))).toBeUndefined();
    expect(chatEventOf("history", { ...messageRecord("m2"), eventName: "REMOVE" })).toBeUndefined();
    expect(mayMakeEvents("presence", { channel: { S: "support" }, user: { S: "#count" } })).toBe(false);
    expect(mayMakeEvents("presence", { channel: { S: "support" }, user: { S: "Lucy" } })).toBe(true);
  });

  it("makes nothing of a direct message, which is kept in the history table under its conversation", () => {
    const record = messageRecord("d1", "just between us");
    const image = record.dynamodb?.NewImage ?? {};
    const dm: StreamRecord = {
      ...record,
      dynamodb: {
        ...record.dynamodb,
        Keys: { channel: { S: "dm#Bob#Lucy" }, sk: { S: "k-d1" } },
        NewImage: { ...image, channel: { S: "dm#Bob#Lucy" }, type: { S: "dm" }, to: { S: "Bob" } },
      },
    };
    expect(chatEventOf("history", dm)).toBeUndefined();
    expect(mayMakeEvents("history", { channel: { S: "dm#Bob#Lucy" }, sk: { S: "k" } })).toBe(false);
    expect(mayMakeEvents("history", { channel: { S: "support" }, sk: { S: "k" } })).toBe(true);
  });

  it("throws MalformedRecordError for a record that lacks what its event needs", () => {
    const record = messageRecord("m3");
    delete record.dynamodb?.NewImage?.message;
    expect(() => chatEventOf("history", record)).toThrow(MalformedRecordError);
    expect(() => chatEventOf("presence", { ...presenceRecord("INSERT", "Lucy"), dynamodb: {} })).toThrow(
      MalformedRecordError,
    );
  });

  it("tells the tables apart by the stream ARN's table name", () => {
    const tables = { history: HISTORY_TABLE, presence: PRESENCE_TABLE };
    expect(streamTableOf(messageRecord("m4"), tables)).toBe("history");
    expect(streamTableOf(presenceRecord("INSERT", "Lucy"), tables)).toBe("presence");
    expect(streamTableOf({ eventSourceARN: arn("other") }, tables)).toBeUndefined();
  });
});

/** The events function over a mocked EventBridge client, its retries without waiting. */
function eventsHandler(attempts?: number) {
  const logger = recordingLogger();
  const client = new EventBridgeClient({
    region: "eu-west-1",
    credentials: { accessKeyId: "x", secretAccessKey: "y" },
  });
  const publisher = new ChatEventPublisher(client, "chat-events", { logger, wait: async () => {}, attempts });
  const handle = createChatEventsHandler({
    publisher,
    tables: { history: HISTORY_TABLE, presence: PRESENCE_TABLE },
    logger,
  });
  return { handle, logger };
}

const sentEntries = () => eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries ?? []);
const accepted = (count: number) => ({
  FailedEntryCount: 0,
  Entries: Array.from({ length: count }, (_, i) => ({ EventId: `e${i}` })),
});

describe("the events function", () => {
  it("puts one entry per event on the chat's bus, in stream order, skipping records that mean none", async () => {
    eventBridge.on(PutEventsCommand).callsFake((input) => accepted(input.Entries.length));
    const { handle } = eventsHandler();
    const answer = await handle({
      Records: [presenceRecord("INSERT", "Lucy"), presenceRecord("MODIFY", "Lucy"), messageRecord("m5", "hello")],
    });
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(sentEntries()).toEqual([
      [
        {
          EventBusName: "chat-events",
          Source: CHAT_EVENT_SOURCE,
          DetailType: "member.joined",
          Detail: JSON.stringify({
            channel: "support",
            username: "Lucy",
            id: "ev-INSERT-Lucy",
            timestamp: 1_764_082_801_000,
          }),
          Time: new Date(1_764_082_801_000),
        },
        expect.objectContaining({ DetailType: "message.sent", Detail: expect.stringContaining('"message":"hello"') }),
      ],
    ]);
  });

  it("sends at most 10 entries per PutEvents call", async () => {
    eventBridge.on(PutEventsCommand).callsFake((input) => accepted(input.Entries.length));
    const { handle } = eventsHandler();
    await handle({ Records: Array.from({ length: 25 }, (_, i) => messageRecord(`b${i}`)) });
    expect(sentEntries().map((entries) => entries.length)).toEqual([10, 10, 5]);
    expect(
      sentEntries()
        .flat()
        .map((entry) => JSON.parse(entry.Detail ?? "{}").id),
    ).toEqual(Array.from({ length: 25 }, (_, i) => `b${i}`));
  });

  it("keeps each call's entries under 256 KB, however long the messages", async () => {
    eventBridge.on(PutEventsCommand).callsFake((input) => accepted(input.Entries.length));
    const { handle } = eventsHandler();
    // 4,000 characters JSON escapes to 24,000 bytes each: ten of them would pass 256 KB.
    await handle({ Records: Array.from({ length: 12 }, (_, i) => messageRecord(`l${i}`, "\u0001".repeat(4_000))) });
    for (const entries of sentEntries()) {
      const bytes = entries.reduce(
        (sum, entry) => sum + 14 + Buffer.byteLength(`${entry.Source}${entry.DetailType}${entry.Detail}`),
        0,
      );
      expect(bytes).toBeLessThan(256 * 1024);
    }
    expect(sentEntries().flat()).toHaveLength(12);
  });

  it("sends again only the entries EventBridge failed, until they are taken", async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 1,
        Entries: [{ EventId: "a" }, { ErrorCode: "ThrottlingException", ErrorMessage: "slow down" }, { EventId: "c" }],
      })
      .resolves(accepted(1));
    const { handle } = eventsHandler();
    const answer = await handle({ Records: [messageRecord("r1"), messageRecord("r2"), messageRecord("r3")] });
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(sentEntries().map((entries) => entries.map((entry) => JSON.parse(entry.Detail ?? "{}").id))).toEqual([
      ["r1", "r2", "r3"],
      ["r2"],
    ]);
  });

  it("drops and logs an entry refused as malformed, and does not send it again", async () => {
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: "MalformedDetail", ErrorMessage: "bad" }, { EventId: "b" }],
    });
    const { handle, logger } = eventsHandler();
    const answer = await handle({ Records: [messageRecord("d1"), messageRecord("d2")] });
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    expect(logger.lines.some((line) => line.level === "error" && line.message.includes("dropped"))).toBe(true);
  });

  it("names the first record still failing after every round, and sends no later batch", async () => {
    // EventBridge keeps failing f11 alone.
    eventBridge.on(PutEventsCommand).callsFake((input: { Entries: { Detail: string }[] }) => ({
      FailedEntryCount: 1,
      Entries: input.Entries.map((entry) =>
        JSON.parse(entry.Detail).id === "f11"
          ? { ErrorCode: "InternalFailure", ErrorMessage: "down" }
          : { EventId: "x" },
      ),
    }));
    const { handle } = eventsHandler(3);
    const records = Array.from({ length: 25 }, (_, i) => messageRecord(`f${i}`));
    const answer = await handle({ Records: records });
    // The second batch (f10…f19) kept failing at its second entry, f11; the third batch was never sent.
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: records[11]?.dynamodb?.SequenceNumber }] });
    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 1 + 3);
  });

  it("names the batch's first record when PutEvents itself keeps failing", async () => {
    eventBridge.on(PutEventsCommand).rejects(Object.assign(new Error("unreachable"), { name: "TimeoutError" }));
    const { handle } = eventsHandler(2);
    const records = [presenceRecord("MODIFY", "Lucy"), messageRecord("t1"), messageRecord("t2")];
    const answer = await handle({ Records: records });
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: records[1]?.dynamodb?.SequenceNumber }] });
    expect(eventBridge).toHaveReceivedCommandTimes(PutEventsCommand, 2);
  });

  it("skips and logs a malformed record and another table's record, and publishes the rest", async () => {
    eventBridge.on(PutEventsCommand).callsFake((input) => accepted(input.Entries.length));
    const { handle, logger } = eventsHandler();
    const broken = messageRecord("x1");
    delete broken.dynamodb?.NewImage?.from;
    const answer = await handle({
      Records: [broken, { ...messageRecord("x2"), eventSourceARN: arn("elsewhere") }, messageRecord("x3")],
    });
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(
      sentEntries()
        .flat()
        .map((entry) => JSON.parse(entry.Detail ?? "{}").id),
    ).toEqual(["x3"]);
    expect(logger.lines.map((line) => line.message)).toEqual(
      expect.arrayContaining(["malformed stream record skipped", "stream record of an unknown table skipped"]),
    );
  });

  it("calls nothing for a batch that makes no event", async () => {
    const { handle } = eventsHandler();
    expect(await handle({ Records: [presenceRecord("MODIFY", "Lucy"), presenceRecord("INSERT", "#count")] })).toEqual({
      batchItemFailures: [],
    });
    expect(eventBridge).not.toHaveReceivedCommand(PutEventsCommand);
  });
});
