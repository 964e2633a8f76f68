import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { publishMessage } from "../../lambda/core/chat.ts";
import { limits } from "../../lambda/core/limits.ts";
import { SERVER_NAME } from "../../lambda/core/names.ts";
import { parsePublishRequest, publishBodyMaxBytes } from "../../lambda/core/publish.ts";
import type { SegmentJob } from "../../lambda/core/sharded-fanout.ts";
import { createPublishHandler, type PublishEvent } from "../../lambda/handlers/publish.ts";
import { bob, decodeData, HISTORY_TABLE, lucy, NOW, testChatDeps } from "../fixtures.ts";

const ddb = mockClient(DynamoDBDocumentClient);
const api = mockClient(ApiGatewayManagementApiClient);
afterEach(() => {
  ddb.reset();
  api.reset();
});

const body = (value: unknown) => JSON.stringify(value);

describe("parsePublishRequest", () => {
  it("takes a message and a sender, trimmed, the sender in NFC", () => {
    expect(parsePublishRequest("support", body({ message: "  deploy done  ", from: " Zoe\u0308 " }))).toEqual({
      ok: true,
      request: { channel: "support", from: "Zo\u00eb", message: "deploy done" },
    });
  });

  it("sends as <server> when no sender is given, and never lets a body name it", () => {
    expect(parsePublishRequest("support", body({ message: "hi" }))).toMatchObject({
      ok: true,
      request: { from: SERVER_NAME },
    });
    expect(parsePublishRequest("support", body({ message: "hi", from: SERVER_NAME }))).toMatchObject({
      ok: false,
      refusal: { status: 400 },
    });
  });

  it.each([
    ["an invalid channel", "bad channel", body({ message: "hi" })],
    ["an empty channel", "", body({ message: "hi" })],
    ["a channel over 64 characters", "c".repeat(65), body({ message: "hi" })],
    ["no channel", undefined, body({ message: "hi" })],
    ["no body", "support", undefined],
    ["a body that is not JSON", "support", "hello"],
    ["a JSON array", "support", "[1]"],
    ["JSON null", "support", "null"],
    ["no message", "support", body({ from: "Billing" })],
    ["a message that is not a string", "support", body({ message: 42 })],
    ["an empty message", "support", body({ message: "   " })],
    ["an invalid sender", "support", body({ message: "hi", from: "Bill<ing>" })],
    ["a sender that is not a string", "support", body({ message: "hi", from: null })],
    ["a sender over 32 characters", "support", body({ message: "hi", from: "b".repeat(33) })],
  ])("refuses %s with 400", (_, channel, text) => {
    const parsed = parsePublishRequest(channel, text);
    expect(parsed).toMatchObject({ ok: false, refusal: { status: 400, error: expect.any(String) } });
  });

  it("refuses a message over 4,000 characters with 413, and takes one of exactly 4,000 (code points)", () => {
    expect(parsePublishRequest("support", body({ message: "x".repeat(limits.messageMaxChars + 1) }))).toMatchObject({
      ok: false,
      refusal: { status: 413 },
    });
    const emoji = "😀".repeat(limits.messageMaxChars);
    expect(parsePublishRequest("support", body({ message: emoji }))).toMatchObject({ ok: true });
  });

  it("takes the largest valid body, a 4,000-character message of escaped characters, and refuses a larger one with 413", () => {
    const escaped = body({ message: "\u0001".repeat(limits.messageMaxChars), from: "Billing" });
    expect(Buffer.byteLength(escaped)).toBeLessThanOrEqual(publishBodyMaxBytes);
    expect(parsePublishRequest("support", escaped)).toMatchObject({ ok: true });
    expect(parsePublishRequest("support", " ".repeat(publishBodyMaxBytes + 1))).toMatchObject({
      ok: false,
      refusal: { status: 413 },
    });
  });

  it("reads a base64 body as API Gateway hands a binary one", () => {
    const encoded = Buffer.from(body({ message: "hi" })).toString("base64");
    expect(parsePublishRequest("support", encoded, true)).toMatchObject({ ok: true, request: { message: "hi" } });
  });
});

/** The publish endpoint over mocked DynamoDB and management API clients, with the real publishMessage. */
function handler() {
  const deps = testChatDeps();
  const handle = createPublishHandler({
    ...deps,
    managementEndpoint: "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
    posterFor: () => deps.poster,
    publish: publishMessage,
  });
  return { handle, logger: deps.logger };
}

const event = (channel: string | undefined, text: string | undefined): PublishEvent => ({
  pathParameters: channel === undefined ? {} : { channel },
  body: text,
  isBase64Encoded: false,
  requestContext: { requestId: "req-9", authorizer: { iam: { userArn: "arn:aws:iam::123456789012:role/billing" } } },
});

describe("the publish handler", () => {
  it("keeps the message in history, delivers it to every member and answers its id, channel and timestamp", async () => {
    ddb.on(PutCommand).resolves({});
    ddb
      .on(QueryCommand)
      .resolves({ Items: [lucy, bob].map(({ connectionId, username }) => ({ connectionId, username })) });
    api.on(PostToConnectionCommand).resolves({});
    const { handle } = handler();

    const answer = await handle(event("support", body({ message: "Invoice paid", from: "Billing" })));

    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ id: "msg-1", channel: "support", timestamp: NOW });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: HISTORY_TABLE,
      Item: expect.objectContaining({ id: "msg-1", channel: "support", from: "Billing", message: "Invoice paid" }),
    });
    const posts = api.commandCalls(PostToConnectionCommand).map((call) => call.args[0].input);
    expect(posts.map((post) => post.ConnectionId).sort()).toEqual([bob.connectionId, lucy.connectionId].sort());
    for (const post of posts) {
      expect(decodeData(post.Data)).toEqual({
        type: "message",
        id: "msg-1",
        from: "Billing",
        message: "Invoice paid",
        channel: "support",
        timestamp: NOW,
      });
    }
  });

  it("hands a channel over the shard threshold to the segment queue, as a member's message would be", async () => {
    ddb.on(PutCommand).resolves({});
    const members = Array.from({ length: limits.shardThreshold + 2 }, (_, i) => ({
      connectionId: `c${i}`,
      username: `u${i}`,
    }));
    const pages = Math.ceil(members.length / limits.membersPageSize);
    let query = ddb.on(QueryCommand);
    for (let page = 0; page < pages; page++) {
      const items = members.slice(page * limits.membersPageSize, (page + 1) * limits.membersPageSize);
      const last = items.at(-1);
      query = query.resolvesOnce({
        Items: items,
        ...(page < pages - 1 && last ? { LastEvaluatedKey: { connectionId: last.connectionId } } : {}),
      });
    }
    const jobs: SegmentJob[] = [];
    const deps = testChatDeps();
    const handle = createPublishHandler({
      ...deps,
      segmentQueue: { enqueue: async (queued) => void jobs.push(...queued) },
      managementEndpoint: "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
      posterFor: () => deps.poster,
      publish: publishMessage,
    });

    const answer = await handle(event("crowded", body({ message: "to everyone", from: "Billing" })));

    expect(answer.statusCode).toBe(200);
    expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
    expect(jobs.flatMap((job) => job.members.map((member) => member.connectionId)).sort()).toEqual(
      members.map((member) => member.connectionId).sort(),
    );
    expect(jobs.every((job) => job.channel === "crowded")).toBe(true);
  });

  it.each([
    [400, "support", "{"],
    [400, "no spaces", body({ message: "hi" })],
    [413, "support", body({ message: "x".repeat(limits.messageMaxChars + 1) })],
  ])("answers %i for bad input, touching nothing", async (status, channel, text) => {
    const { handle } = handler();
    const answer = await handle(event(channel, text));
    expect(answer.statusCode).toBe(status);
    expect(JSON.parse(answer.body)).toEqual({ error: expect.any(String) });
    expect(ddb.calls()).toHaveLength(0);
    expect(api.calls()).toHaveLength(0);
  });

  it("answers a logged 500 naming the request when the history cannot be written, and delivers nothing", async () => {
    ddb.on(PutCommand).rejects(Object.assign(new Error("the store is down"), { name: "InternalServerError" }));
    ddb.on(QueryCommand).resolves({ Items: [{ connectionId: lucy.connectionId, username: lucy.username }] });
    const { handle, logger } = handler();
    const answer = await handle(event("support", body({ message: "hi" })));
    expect(answer.statusCode).toBe(500);
    expect(JSON.parse(answer.body).error).toContain("req-9");
    expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
    expect(logger.lines).toContainEqual(
      expect.objectContaining({
        level: "error",
        message: "publish failed",
        extra: [expect.objectContaining({ caller: expect.stringContaining("billing") })],
      }),
    );
  });
});
