import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { base64url, SignJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { signSessionToken, tokenKey } from "../../lambda/core/session-token.ts";
import { createAuthorizerHandler } from "../../lambda/handlers/authorizer.ts";
import { createMessageHandler } from "../../lambda/handlers/message.ts";
import { createSessionHandler } from "../../lambda/handlers/session.ts";
import {
  bob,
  HISTORY_TABLE,
  lucy,
  NOW,
  PRESENCE_TABLE,
  recordingLogger,
  SECRET,
  testChatDeps,
  webSocketEvent,
} from "../fixtures.ts";

// Property tests: what an attacker (or a careless client) can send never makes a handler throw, answer outside the
// protocol, or store what it should not. 4,000 + 3,000 + 3,000 cases per run. Each oracle restates the protocol's
// rule independently of the code under test.

const ddb = mockClient(DynamoDBDocumentClient);
const api = mockClient(ApiGatewayManagementApiClient);
afterEach(() => {
  ddb.reset();
  api.reset();
});

const key = tokenKey(SECRET);
const codePoints = (text: string) => [...text].length;

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const control = fc.integer({ min: 0, max: 0x1f }).map((code) => String.fromCharCode(code));
const anyChar = fc.oneof(fc.string({ unit: "binary", minLength: 1, maxLength: 1 }), loneSurrogate, control);
const spaceChar = fc.constantFrom(" ", "\t", "\n", "\r", "\u00a0", "\u2003", "\u3000", "\ufeff");
/** Mostly blank text: what trimming rules are made for. */
const blankish = fc.string({
  unit: fc.oneof({ weight: 5, arbitrary: spaceChar }, { weight: 1, arbitrary: anyChar }),
  maxLength: 12,
});
const hostileText = fc.oneof(fc.string({ unit: anyChar, maxLength: 120 }), blankish);
const hostileKeys = fc.oneof(
  fc.constantFrom("__proto__", "constructor", "prototype", "action", "message", "toString"),
  fc.string({ maxLength: 8 }),
);
const hostileObject = fc.dictionary(hostileKeys, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 });
const actions = fc.oneof(
  fc.constantFrom("send", "ping", "who", "history", "__proto__", "constructor", "hasOwnProperty", ""),
  hostileText,
  fc.integer(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 2 }),
);

/**
 * Client frames of every kind: text, JSON with and without an action, deep nesting, huge, history cursors. (Binary
 * frames never reach a route: API Gateway closes the connection with 1003.)
 */
const frames = fc.oneof(
  hostileText.map((body) => ({ body })),
  fc
    .record(
      { action: actions, message: fc.oneof(hostileText, fc.jsonValue({ maxDepth: 2 })) },
      { requiredKeys: ["action"] },
    )
    .map((frame) => ({
      body: JSON.stringify(frame),
    })),
  fc.tuple(hostileObject, actions).map(([object, action]) => ({ body: JSON.stringify({ ...object, action }) })),
  hostileObject.map((object) => ({ body: JSON.stringify(object) })),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => ({ body: `${"[".repeat(depth)}${"]".repeat(depth)}` })),
  fc.integer({ min: 1, max: 2_000 }).map((depth) => ({
    body: `{"action":"send","message":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`,
  })),
  fc.integer({ min: 3_990, max: 33_000 }).map((length) => ({ body: "y".repeat(length) })),
  fc
    .record({
      timestamp: fc.oneof(fc.double(), fc.integer(), hostileText, fc.constant(null)),
      id: fc.oneof(hostileText, fc.string({ minLength: 100, maxLength: 200 }), fc.integer()),
    })
    .chain((cursor) =>
      fc.subarray(["before", "after"]).map((sides) => ({
        body: JSON.stringify({ action: "history", ...Object.fromEntries(sides.map((side) => [side, cursor])) }),
      })),
    ),
);

/** The protocol's rule for "this frame is a chat message", written apart from the parser. */
function expectedChatMessage(body: string): string | undefined {
  let text = body;
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) && Object.hasOwn(parsed, "action")) {
      const { action, message } = parsed as { action: unknown; message: unknown };
      if (action !== "send" || typeof message !== "string") return undefined;
      text = message;
    }
  } catch {
    // not JSON: the text is the message
  }
  const trimmed = text.trim();
  return trimmed.length > 0 && codePoints(trimmed) <= 4_000 ? trimmed : undefined;
}

describe("hostile frames at $default", () => {
  it("never throw, answer the sender exactly once, and store only valid chat messages", async () => {
    await fc.assert(
      fc.asyncProperty(frames, async ({ body }) => {
        ddb.reset();
        api.reset();
        ddb
          .on(QueryCommand, { IndexName: "byChannel" })
          .resolves({ Items: [lucy, bob].map(({ connectionId, username }) => ({ connectionId, username })) });
        ddb.on(QueryCommand, { TableName: HISTORY_TABLE }).resolves({ Items: [] });
        ddb.on(PutCommand).resolves({});
        ddb.on(QueryCommand, { TableName: PRESENCE_TABLE }).resolves({ Items: [{ user: "Bob" }, { user: "Lucy" }] });
        ddb.on(GetCommand, { TableName: PRESENCE_TABLE }).resolves({ Item: { count: 2 } });
        api.on(PostToConnectionCommand).resolves({});
        const chat = testChatDeps();
        const handler = createMessageHandler({
          ...chat,
          managementEndpoint: "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
          posterFor: () => chat.poster,
        });

        const result = await handler(webSocketEvent("$default", lucy, body));

        // The one answer is the route response; nothing is posted to the sender.
        expect(result).toEqual({ statusCode: 200, body: expect.any(String) });
        expect(api).not.toHaveReceivedCommandWith(PostToConnectionCommand, { ConnectionId: lucy.connectionId });
        const toSender = [JSON.parse(result.body ?? "") as { type: string; message?: string }];
        const stored = ddb.commandCalls(PutCommand).filter((call) => call.args[0].input.TableName === HISTORY_TABLE);
        const message = expectedChatMessage(body);
        if (message === undefined) {
          expect(stored).toHaveLength(0);
          expect(["error", "pong", "presence", "history"]).toContain(toSender[0]?.type);
        } else {
          expect(stored.map((call) => call.args[0].input.Item?.message)).toEqual([message]);
          expect(toSender[0]).toMatchObject({ type: "message", from: "Lucy", message });
        }
      }),
      { numRuns: 4_000 },
    );
  }, 120_000);
});

const CHANNEL = /^[A-Za-z0-9_-]{1,64}$/;

/** Tokens of every kind, each with whether the authorizer may accept it. */
const tokens = fc.oneof(
  fc.string({ maxLength: 200 }).map((token) => ({ token, valid: false })),
  fc
    .tuple(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }))
    .map((parts) => ({ token: parts.map((part) => base64url.encode(part)).join("."), valid: false })),
  fc.constantFrom("none", "HS384", "HS512").map((alg) => ({ alg, valid: false })),
  fc
    .string({ minLength: 32, maxLength: 64 })
    .filter((secret) => secret !== SECRET)
    .map((secret) => ({ otherSecret: secret, valid: false })),
  fc.integer({ min: 1, max: 100_000 }).map((agoSeconds) => ({ expiredBy: agoSeconds, valid: false })),
  fc.integer({ min: 1, max: 30 }).map((position) => ({ tamperAt: position, valid: false })),
  fc.constant({ valid: true }),
);

async function makeToken(kind: Record<string, unknown>): Promise<string> {
  const now = NOW / 1000;
  if (typeof kind.token === "string") return kind.token;
  if (kind.alg === "none") {
    return `${base64url.encode(JSON.stringify({ alg: "none" }))}.${base64url.encode(JSON.stringify({ sub: "Lucy", iat: now, exp: now + 60 }))}.`;
  }
  if (typeof kind.alg === "string") {
    return new SignJWT({})
      .setProtectedHeader({ alg: kind.alg })
      .setSubject("Lucy")
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(key);
  }
  if (typeof kind.otherSecret === "string")
    return (await signSessionToken(tokenKey(kind.otherSecret), "Lucy", 60, NOW)).token;
  if (typeof kind.expiredBy === "number") {
    return (await signSessionToken(key, "Lucy", 60, NOW - (60 + kind.expiredBy) * 1000)).token;
  }
  const { token } = await signSessionToken(key, "Lucy", 60, NOW);
  if (typeof kind.tamperAt === "number") {
    // Change one character well inside the signature (its last character may carry only padding bits).
    const at = token.length - 2 - kind.tamperAt;
    return `${token.slice(0, at)}${token[at] === "A" ? "B" : "A"}${token.slice(at + 1)}`;
  }
  return token;
}

describe("hostile tokens and query strings at the authorizer", () => {
  it("allow nothing but a valid, unexpired HS256 token signed with the secret, and only for a valid channel", async () => {
    const authorize = createAuthorizerHandler({ key, logger: recordingLogger(), now: () => NOW });
    const channels = fc.oneof(fc.constant(undefined), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), hostileText);
    const extra = fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 3 });
    await fc.assert(
      fc.asyncProperty(tokens, channels, extra, async (kind, channel, more) => {
        const token = await makeToken(kind);
        const query = { ...more, token, ...(channel === undefined ? {} : { channel }) };
        const outcome = await authorize({ methodArn: "arn", queryStringParameters: query }).then(
          (result) => result.policyDocument.Statement[0]?.Effect ?? "none",
          (error: Error) => error.message,
        );
        const tokenOk = kind.valid && token.length > 0;
        const channelOk = channel === undefined || CHANNEL.test(channel);
        if (!tokenOk) expect(outcome).toBe("Unauthorized");
        else expect(outcome).toBe(channelOk ? "Allow" : "Deny");
      }),
      { numRuns: 3_000 },
    );
  }, 120_000);
});

const USERNAME = /^[\p{L}\p{M}\p{Nd} _.-]+$/u;

describe("hostile bodies at POST /session", () => {
  it("answer only 200, 400 or 413, and 200 exactly for a valid username", async () => {
    const session = createSessionHandler({ key, logger: recordingLogger(), now: () => NOW });
    const bodies = fc.oneof(
      hostileText.map((username) => ({ body: JSON.stringify({ username }), username: username as unknown })),
      fc
        .stringMatching(/^[A-Za-z0-9 ._-]{0,40}$/)
        .map((username) => ({ body: JSON.stringify({ username }), username: username as unknown })),
      fc.jsonValue({ maxDepth: 3 }).map((value) => ({ body: JSON.stringify(value), username: undefined as unknown })),
      hostileText.map((body) => ({ body, username: undefined as unknown })),
      fc
        .integer({ min: 16_000, max: 17_000 })
        .map((size) => ({ body: JSON.stringify({ username: "x".repeat(size) }), username: undefined as unknown })),
    );
    await fc.assert(
      fc.asyncProperty(bodies, async ({ body, username }) => {
        const response = await session({ body });
        const bytes = Buffer.byteLength(body);
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch {
          parsed = undefined;
        }
        const candidate =
          parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
            ? (parsed as { username?: unknown }).username
            : username;
        const trimmed = typeof candidate === "string" ? candidate.trim() : "";
        const valid =
          trimmed.length > 0 && codePoints(trimmed) <= 32 && USERNAME.test(trimmed) && typeof candidate === "string";
        if (bytes > 16 * 1024) expect(response.statusCode).toBe(413);
        else expect(response.statusCode).toBe(valid && Object.hasOwn(parsed as object, "username") ? 200 : 400);
        expect(() => JSON.parse(response.body)).not.toThrow();
      }),
      { numRuns: 3_000 },
    );
  }, 120_000);
});
