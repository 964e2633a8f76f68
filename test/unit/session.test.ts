import { describe, expect, it } from "vitest";
import { tokenKey, verifySessionToken } from "../../lambda/core/session-token.ts";
import { createSessionHandler, KEY_UNAVAILABLE_ERROR } from "../../lambda/handlers/session.ts";
import { NOW, recordingLogger, SECRET } from "../fixtures.ts";

const key = tokenKey(SECRET);
const session = createSessionHandler({ key, logger: recordingLogger(), now: () => NOW });
const post = async (body: string | undefined, isBase64Encoded = false) => {
  const response = await session({ body, isBase64Encoded });
  return { status: response.statusCode, body: JSON.parse(response.body), headers: response.headers };
};

describe("POST /session", () => {
  it("answers 200 with a token for the trimmed username and its expiry in milliseconds", async () => {
    const { status, body, headers } = await post('{"username":"  Lucy "}');
    expect(status).toBe(200);
    expect(body).toEqual({ token: expect.any(String), username: "Lucy", expiresAt: NOW + 3_600_000 });
    expect(headers["content-type"]).toMatch(/application\/json/);
    await expect(verifySessionToken(key, body.token, NOW)).resolves.toBe("Lucy");
  });

  it("honours a configured token lifetime", async () => {
    const response = await createSessionHandler({ key, ttlSeconds: 60, logger: recordingLogger(), now: () => NOW })({
      body: '{"username":"Lucy"}',
    });
    expect(JSON.parse(response.body).expiresAt).toBe(NOW + 60_000);
  });

  it("reads a base64-encoded body", async () => {
    const { status } = await post(Buffer.from('{"username":"Bob"}').toString("base64"), true);
    expect(status).toBe(200);
  });

  it.each([
    ["a missing body", undefined, /JSON/],
    ["malformed JSON", '{"username":', /JSON/],
    ["a JSON array", '["Lucy"]', /object/],
    ["JSON null", "null", /object/],
    ["no username", "{}", /required/],
    ["an empty username", '{"username":""}', /empty/],
    ["a blank username", '{"username":"   "}', /empty/],
    ["a username over 32 characters", JSON.stringify({ username: "x".repeat(33) }), /at most 32/],
    ["the reserved <server>", '{"username":"<server>"}', /reserved/],
    ["a username that is not a string", '{"username":7}', /string/],
  ])("answers 400 with a clear error for %s", async (_, body, error) => {
    const response = await post(body);
    expect(response.status).toBe(400);
    expect(response.body.error).toMatch(error);
  });

  it("answers 413 for a body over 16 KiB", async () => {
    const { status, body } = await post(JSON.stringify({ username: "Lucy", padding: "x".repeat(16 * 1024) }));
    expect(status).toBe(413);
    expect(body.error).toMatch(/16384 bytes/);
  });
});

describe("POST /session without its key", () => {
  it("answers 500 with an error, and logs why, when the key cannot be had", async () => {
    const logger = recordingLogger();
    const broken = createSessionHandler({
      key: async () => {
        throw new Error("socket hang up");
      },
      logger,
      now: () => NOW,
    });
    const response = await broken({ body: '{"username":"Lucy"}', requestContext: { requestId: "r-9" } });
    expect(response.statusCode).toBe(500);
    expect(JSON.parse(response.body)).toEqual({ error: KEY_UNAVAILABLE_ERROR });
    expect(logger.lines).toEqual([
      {
        level: "error",
        message: "token key unavailable: answering 500",
        extra: [{ error: "the token key is unavailable: socket hang up", attempts: 0, requestId: "r-9" }],
      },
    ]);
  });

  it("still answers 400 for bad input without asking for the key", async () => {
    let asked = 0;
    const lazy = createSessionHandler({
      key: async () => {
        asked++;
        return key;
      },
      logger: recordingLogger(),
      now: () => NOW,
    });
    expect((await lazy({ body: "[]" })).statusCode).toBe(400);
    expect(asked).toBe(0);
    expect((await lazy({ body: '{"username":"Lucy"}' })).statusCode).toBe(200);
    expect(asked).toBe(1);
  });
});
