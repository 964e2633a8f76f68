import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { signSessionToken, tokenKey } from "../../lambda/core/session-token.ts";
import {
  type SecretRetryOptions,
  TokenSecretUnavailableError,
  tokenSecretLimits,
} from "../../lambda/core/token-secret.ts";
import { createAuthorizerHandler, UNAUTHORIZED } from "../../lambda/handlers/authorizer.ts";
import { createSessionHandler, KEY_UNAVAILABLE_ERROR } from "../../lambda/handlers/session.ts";
import { tokenKeyLoader } from "../../lambda/runtime/token-key-from-env.ts";
import { NOW, recordingLogger, SECRET } from "../fixtures.ts";
import {
  accessDenied,
  type FakeSecretsManager,
  SECRET_ARN,
  startFakeSecretsManager,
  TEST_CREDENTIALS,
  throttled,
} from "./fake-secrets-manager.ts";

// The authorizer and session functions as Lambda runs them, each "environment" its own tokenKeyLoader (its own
// module instance in Lambda), reading from a fake Secrets Manager through the real signed-HTTPS source.

const methodArn = "arn:aws:execute-api:eu-west-1:123456789012:abc/prod/$connect";
let fake: FakeSecretsManager | undefined;
afterEach(() => fake?.close());

const envOf = (server: FakeSecretsManager) => ({
  AWS_REGION: "eu-west-1",
  AWS_ENDPOINT_URL_SECRETS_MANAGER: server.endpoint,
  AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  AWS_SESSION_TOKEN: TEST_CREDENTIALS.sessionToken,
  CHAT_TOKEN_SECRET_ARN: SECRET_ARN,
});

/** One execution environment: its key loader, and the authorizer and session handlers over it. */
function environment(server: FakeSecretsManager, retry: SecretRetryOptions = {}) {
  const logger = recordingLogger();
  const key = tokenKeyLoader(envOf(server), { logger, retry });
  return {
    logger,
    authorize: createAuthorizerHandler({ key, logger, now: () => NOW }),
    session: createSessionHandler({ key, logger, now: () => NOW }),
  };
}

let token: string;
beforeEach(async () => {
  token = (await signSessionToken(tokenKey(SECRET), "Lucy", 3_600, NOW)).token;
});
const handshake = () => ({ methodArn, queryStringParameters: { token, channel: "support" } });

/** A seeded generator, so the jitter of many environments is random yet the same on every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe("token key at cold start", () => {
  it("reads nothing until the first invocation", async () => {
    fake = await startFakeSecretsManager();
    environment(fake);
    expect(fake.requests).toHaveLength(0);
  });

  it("gets the key when Secrets Manager throttles the first reads, after one read per throttling", async () => {
    fake = await startFakeSecretsManager((_, index) => (index <= 2 ? throttled : { status: 200 }));
    const { authorize, logger } = environment(fake);
    await expect(authorize(handshake())).resolves.toMatchObject({ context: { username: "Lucy", channel: "support" } });
    expect(fake.requests).toHaveLength(3);
    expect(logger.lines.filter((l) => l.level === "warn").map((l) => l.extra[0])).toEqual([
      expect.objectContaining({ code: "ThrottlingException", attempt: 1 }),
      expect.objectContaining({ code: "ThrottlingException", attempt: 2 }),
    ]);
    await authorize(handshake());
    expect(fake.requests).toHaveLength(3);
  });

  it("gets the key when the first connections are refused", async () => {
    fake = await startFakeSecretsManager();
    const server = fake;
    await server.stopListening();
    let waits = 0;
    // Secrets Manager comes back during the second wait: two refused reads, then one answered.
    const { session } = environment(server, {
      sleep: async () => {
        if (++waits === 2) await server.listen();
      },
    });
    const response = await session({ body: '{"username":"Lucy"}' });
    expect(response.statusCode).toBe(200);
    expect(waits).toBe(2);
    expect(server.requests).toHaveLength(1);
  });

  it("gets the key in 50 environments starting at once while Secrets Manager resets connections under load", async () => {
    const maxServed = 8;
    fake = await startFakeSecretsManager((_, __, inFlight) => (inFlight > maxServed ? "reset" : { status: 200 }), 30);
    const server = fake;
    const random = seeded(11);
    const environments = Array.from({ length: 50 }, () => environment(server, { random }));
    const results = await Promise.all(environments.map(({ authorize }) => authorize(handshake())));
    expect(results.every((r) => r.context?.username === "Lucy")).toBe(true);
    const resets = server.answers.filter((a) => a === "reset").length;
    expect(resets).toBeGreaterThan(0);
    // One answered read per environment, and no environment read more often than its bound.
    expect(server.answers.length - resets).toBe(50);
    expect(server.requests.length).toBeLessThanOrEqual(50 * tokenSecretLimits.maxAttempts);
  });

  it("reads once for 50 invocations arriving at once in one environment", async () => {
    fake = await startFakeSecretsManager(undefined, 30);
    const { authorize } = environment(fake);
    const results = await Promise.all(Array.from({ length: 50 }, () => authorize(handshake())));
    expect(results.every((r) => r.policyDocument.Statement[0]?.Effect === "Allow")).toBe(true);
    expect(fake.requests).toHaveLength(1);
  });
});

describe("token key refused", () => {
  it("makes the authorizer fail with a 500 (not Unauthorized), logs why, and reads again next time", async () => {
    fake = await startFakeSecretsManager(() => accessDenied);
    const { authorize, logger } = environment(fake);
    const error = await authorize(handshake()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TokenSecretUnavailableError);
    expect((error as Error).message).not.toBe(UNAUTHORIZED);
    expect((error as Error).message).toMatch(/AccessDeniedException.*secretsmanager:GetSecretValue/);
    expect(fake.requests).toHaveLength(1);
    expect(logger.lines.filter((l) => l.level === "error")).toEqual([
      {
        level: "error",
        message: "token key unavailable: answering 500",
        extra: [expect.objectContaining({ code: "AccessDeniedException", status: 400, attempts: 1 })],
      },
    ]);

    fake.script = () => ({ status: 200 });
    await expect(authorize(handshake())).resolves.toMatchObject({ context: { username: "Lucy" } });
    expect(fake.requests).toHaveLength(2);
  });

  it("still answers 401 for a handshake without a token, with no read", async () => {
    fake = await startFakeSecretsManager(() => accessDenied);
    const { authorize } = environment(fake);
    await expect(authorize({ methodArn, queryStringParameters: { channel: "support" } })).rejects.toThrow(
      /^Unauthorized$/,
    );
    expect(fake.requests).toHaveLength(0);
  });

  it("makes the session function answer 500 with an error, logs why, and read again next time", async () => {
    fake = await startFakeSecretsManager(() => accessDenied);
    const { session, logger } = environment(fake);
    const response = await session({ body: '{"username":"Lucy"}', requestContext: { requestId: "r-1" } });
    expect(response.statusCode).toBe(500);
    expect(JSON.parse(response.body)).toEqual({ error: KEY_UNAVAILABLE_ERROR });
    expect(logger.lines.filter((l) => l.level === "error")).toEqual([
      {
        level: "error",
        message: "token key unavailable: answering 500",
        extra: [expect.objectContaining({ code: "AccessDeniedException", attempts: 1, requestId: "r-1" })],
      },
    ]);

    fake.script = () => ({ status: 200 });
    expect((await session({ body: '{"username":"Lucy"}' })).statusCode).toBe(200);
    expect(fake.requests).toHaveLength(2);
  });

  it("keeps answering 400 for bad input, with no read, when the key cannot be had", async () => {
    fake = await startFakeSecretsManager(() => accessDenied);
    const { session } = environment(fake);
    expect((await session({ body: "{}" })).statusCode).toBe(400);
    expect(fake.requests).toHaveLength(0);
  });

  it("answers 500 once the retry budget is spent on throttling", async () => {
    fake = await startFakeSecretsManager(() => throttled);
    const { session } = environment(fake, { sleep: async () => {} });
    expect((await session({ body: '{"username":"Lucy"}' })).statusCode).toBe(500);
    expect(fake.requests).toHaveLength(tokenSecretLimits.maxAttempts);
  });
});
