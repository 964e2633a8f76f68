import { DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { HistoryStore } from "../../lambda/core/history-store.ts";
import type { MessageFrame } from "../../lambda/core/server-frames.ts";
import { HISTORY_TABLE, NOW, testDocumentClient } from "../fixtures.ts";

const ddb = mockClient(DynamoDBDocumentClient);
afterEach(() => ddb.reset());

const frame = (id: string, timestamp: number): MessageFrame => ({
  type: "message",
  id,
  from: "Lucy",
  message: `hello ${id}`,
  channel: "support",
  timestamp,
});

describe("history store", () => {
  it("keeps a message with a sortable key and a 24-hour TTL", async () => {
    ddb.on(PutCommand).resolves({});
    await new HistoryStore(testDocumentClient(), HISTORY_TABLE).append(frame("m1", NOW));
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: HISTORY_TABLE,
      Item: { ...frame("m1", NOW), sk: `00${NOW}#m1`, expiresAt: NOW / 1000 + 86_400 },
    });
  });

  it("reads the newest messages and returns them oldest first", async () => {
    ddb.on(QueryCommand).resolves({ Items: [frame("m3", NOW + 2), frame("m2", NOW + 1), frame("m1", NOW)] });
    const messages = await new HistoryStore(testDocumentClient(), HISTORY_TABLE, { now: () => NOW }).recent(
      "support",
      3,
    );
    expect(messages.map((message) => message.id)).toEqual(["m1", "m2", "m3"]);
    expect(messages[0]).toEqual(frame("m1", NOW));
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, { ScanIndexForward: false, Limit: 3 });
  });
});
