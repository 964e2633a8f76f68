import { describe, expect, it } from "vitest";
import { signSessionToken, tokenKey } from "../../lambda/core/session-token.ts";
import { TokenSecretUnavailableError } from "../../lambda/core/token-secret.ts";
import { createAuthorizerHandler } from "../../lambda/handlers/authorizer.ts";
import { NOW, recordingLogger, SECRET } from "../fixtures.ts";

const key = tokenKey(SECRET);
const methodArn = "arn:aws:execute-api:eu-west-1:123456789012:abc/prod/$connect";
const authorize = createAuthorizerHandler({ key, logger: recordingLogger(), now: () => NOW });
const event = (query: Record<string, string> | null) => ({ methodArn, queryStringParameters: query });
const tokenFor = async (name: string, ttl = 3600, at = NOW) => (await signSessionToken(key, name, ttl, at)).token;

describe("$connect authorizer", () => {
  it("allows a valid token and passes username and channel as context", async () => {
    const result = await authorize(event({ token: await tokenFor("Lucy"), channel: "support" }));
    expect(result).toEqual({
      principalId: "Lucy",
      policyDocument: {
        Version: "2012-10-17",
        Statement: [{ Action: "execute-api:Invoke", Effect: "Allow", Resource: methodArn }],
      },
      context: { username: "Lucy", channel: "support" },
    });
  });

  it("takes the token offered as a subprotocol beside chat.v1, in any header case", async () => {
    const token = await tokenFor("Lucy");
    const result = await authorize({
      methodArn,
      headers: { "sec-websocket-protocol": `chat.v1, ${token}` },
      queryStringParameters: { channel: "support" },
    });
    expect(result.context).toEqual({ username: "Lucy", channel: "support" });
  });

  it("ignores a token offered without chat.v1", async () => {
    const token = await tokenFor("Lucy");
    await expect(
      authorize({ methodArn, headers: { "Sec-WebSocket-Protocol": token }, queryStringParameters: null }),
    ).rejects.toThrow(/^Unauthorized$/);
  });

  it("puts a connection without a channel into the default channel", async () => {
    const result = await authorize(event({ token: await tokenFor("Lucy") }));
    expect(result.context).toEqual({ username: "Lucy", channel: "default" });
  });

  it.each([
    ["no query string", null],
    ["no token", { channel: "support" }],
    ["a malformed token", { token: "abc", channel: "support" }],
  ])("answers Unauthorized for %s", async (_, query) => {
    await expect(authorize(event(query))).rejects.toThrow(/^Unauthorized$/);
  });

  it("answers Unauthorized for an expired token", async () => {
    const token = await tokenFor("Lucy", 60, NOW - 120_000);
    await expect(authorize(event({ token, channel: "support" }))).rejects.toThrow(/^Unauthorized$/);
  });

  it("answers Unauthorized for a token made with another secret", async () => {
    const { token } = await signSessionToken(tokenKey("x".repeat(40)), "Lucy", 60, NOW);
    await expect(authorize(event({ token, channel: "support" }))).rejects.toThrow(/^Unauthorized$/);
  });

  it.each(["", "bad channel", "x".repeat(65)])("denies the invalid channel %j", async (channel) => {
    const result = await authorize(event({ token: await tokenFor("Lucy"), channel }));
    expect(result.policyDocument.Statement[0]?.Effect).toBe("Deny");
    expect(result.context).toBeUndefined();
  });
});

describe("$connect authorizer without its key", () => {
  it("fails with an error that is not Unauthorized, so API Gateway answers 500, and logs it", async () => {
    const logger = recordingLogger();
    const broken = createAuthorizerHandler({
      key: async () => {
        throw new Error("socket hang up");
      },
      logger,
      now: () => NOW,
    });
    const failure = await broken(event({ token: await tokenFor("Lucy") })).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(TokenSecretUnavailableError);
    expect((failure as Error).message).toBe("the token key is unavailable: socket hang up");
    expect(logger.lines).toEqual([
      {
        level: "error",
        message: "token key unavailable: answering 500",
        extra: [{ error: "the token key is unavailable: socket hang up", attempts: 0, requestId: undefined }],
      },
    ]);
  });

  it("takes the key from a function and asks it on each handshake", async () => {
    let asked = 0;
    const lazy = createAuthorizerHandler({
      key: async () => {
        asked++;
        return key;
      },
      logger: recordingLogger(),
      now: () => NOW,
    });
    expect(asked).toBe(0);
    await expect(lazy(event({ token: await tokenFor("Lucy") }))).resolves.toMatchObject({
      context: { username: "Lucy" },
    });
    expect(asked).toBe(1);
  });
});
