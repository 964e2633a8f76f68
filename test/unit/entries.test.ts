import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MissingSecretError, tokenSecretLoader } from "../../lambda/core/token-secret.ts";
import { positiveIntEnv, requireEnv } from "../../lambda/runtime/environment.ts";
import { accessDenied, SECRET_ARN, startFakeSecretsManager, TEST_CREDENTIALS } from "./fake-secrets-manager.ts";

beforeEach(() => {
  vi.resetModules();
  vi.stubEnv("AWS_REGION", "eu-west-1");
  vi.stubEnv("POWERTOOLS_LOG_LEVEL", "SILENT");
});
afterEach(() => {
  vi.unstubAllEnvs();
});

/** The environment Lambda gives a function whose token secret is in Secrets Manager, the endpoint made local. */
function stubSecretsManager(endpoint: string): void {
  vi.stubEnv("CHAT_TOKEN_SECRET_ARN", SECRET_ARN);
  vi.stubEnv("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint);
  vi.stubEnv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS.accessKeyId);
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS.secretAccessKey);
  vi.stubEnv("AWS_SESSION_TOKEN", TEST_CREDENTIALS.sessionToken);
}

describe("Lambda entries", () => {
  it("fail at cold start naming a missing table variable", async () => {
    vi.stubEnv("CONNECTIONS_TABLE", "");
    await expect(import("../../lambda/entry/message.ts")).rejects.toThrow("CONNECTIONS_TABLE");
  });

  it("fail at cold start without CHAT_MANAGEMENT_ENDPOINT, naming it (CDK and the local stack always set it)", async () => {
    vi.stubEnv("CONNECTIONS_TABLE", "connections");
    vi.stubEnv("HISTORY_TABLE", "history");
    vi.stubEnv("PRESENCE_TABLE", "presence");
    vi.stubEnv("RATES_TABLE", "rates");
    vi.stubEnv("MEMBERS_TABLE", "members");
    vi.stubEnv("CHAT_MANAGEMENT_ENDPOINT", "");
    await expect(import("../../lambda/entry/connect.ts")).rejects.toThrow("CHAT_MANAGEMENT_ENDPOINT");
  });

  it("build the WebSocket handlers from the environment", async () => {
    vi.stubEnv("CONNECTIONS_TABLE", "connections");
    vi.stubEnv("HISTORY_TABLE", "history");
    vi.stubEnv("PRESENCE_TABLE", "presence");
    vi.stubEnv("RATES_TABLE", "rates");
    vi.stubEnv("MEMBERS_TABLE", "members");
    vi.stubEnv("CHAT_MANAGEMENT_ENDPOINT", "https://abc123.execute-api.eu-west-1.amazonaws.com/prod");
    for (const entry of [
      import("../../lambda/entry/connect.ts"),
      import("../../lambda/entry/message.ts"),
      import("../../lambda/entry/disconnect.ts"),
    ]) {
      expect(typeof (await entry).handler).toBe("function");
    }
  });

  it("read the token secret from Secrets Manager on first use, never at load, and once", async () => {
    const secretsManager = await startFakeSecretsManager();
    try {
      stubSecretsManager(secretsManager.endpoint);
      vi.stubEnv("CHAT_TOKEN_TTL", "120");
      const { handler: session } = await import("../../lambda/entry/session.ts");
      const { handler: authorize } = await import("../../lambda/entry/authorizer.ts");
      expect(secretsManager.requests).toHaveLength(0);

      const first = await session({ body: '{"username":"Lucy"}' });
      await session({ body: '{"username":"Bob"}' });
      expect(first.statusCode).toBe(200);
      expect(secretsManager.requests).toHaveLength(1);
      expect(secretsManager.requests[0]?.headers.authorization).toMatch(/\/eu-west-1\/secretsmanager\/aws4_request/);
      const { token } = JSON.parse(first.body);
      await expect(authorize({ methodArn: "arn", queryStringParameters: { token } })).resolves.toMatchObject({
        context: { username: "Lucy", channel: "default" },
      });
      expect(secretsManager.requests).toHaveLength(2);
    } finally {
      await secretsManager.close();
    }
  });

  it("answer 500 when Secrets Manager refuses, the authorizer by failing with another error than Unauthorized", async () => {
    const secretsManager = await startFakeSecretsManager(() => accessDenied);
    try {
      stubSecretsManager(secretsManager.endpoint);
      const { handler: session } = await import("../../lambda/entry/session.ts");
      const { handler: authorize } = await import("../../lambda/entry/authorizer.ts");
      expect((await session({ body: '{"username":"Lucy"}' })).statusCode).toBe(500);
      // A fresh module graph per test: the class is not this file's, so match it by name.
      const failure = await authorize({ methodArn: "arn", queryStringParameters: { token: "x" } }).catch((e) => e);
      expect(failure).toMatchObject({
        name: "TokenSecretUnavailableError",
        message: expect.stringMatching(/AccessDenied/),
      });
      expect(failure.message).not.toBe("Unauthorized");
      expect(secretsManager.requests).toHaveLength(2);
    } finally {
      await secretsManager.close();
    }
  });

  it("fail at cold start without any token secret", async () => {
    vi.stubEnv("CHAT_TOKEN_SECRET", "");
    vi.stubEnv("CHAT_TOKEN_SECRET_ARN", "");
    await expect(import("../../lambda/entry/authorizer.ts")).rejects.toThrow("CHAT_TOKEN_SECRET");
  });
});

describe("configuration", () => {
  it("reads required and numeric variables and names the bad one", () => {
    expect(requireEnv("A", { A: "x" })).toBe("x");
    expect(() => requireEnv("A", {})).toThrow("A is required");
    expect(positiveIntEnv("N", { N: "60" })).toBe(60);
    expect(positiveIntEnv("N", {})).toBeUndefined();
    expect(() => positiveIntEnv("N", { N: "soon" })).toThrow(/N must be a positive integer/);
  });

  it("resolves the secret from the environment, or from the secret source on first use", async () => {
    await expect(tokenSecretLoader({ CHAT_TOKEN_SECRET: "s" }, undefined)()).resolves.toBe("s");
    expect(() => tokenSecretLoader({ CHAT_TOKEN_SECRET_ARN: "arn" }, undefined)).toThrow(MissingSecretError);
    expect(() => tokenSecretLoader({}, undefined)).toThrow(/set CHAT_TOKEN_SECRET/);
    let reads = 0;
    const load = tokenSecretLoader({ CHAT_TOKEN_SECRET_ARN: "arn" }, { fetch: async () => `secret-${++reads}` });
    expect(reads).toBe(0);
    await expect(load()).resolves.toBe("secret-1");
    await expect(load()).resolves.toBe("secret-1");
    await expect(tokenSecretLoader({ CHAT_TOKEN_SECRET_ARN: "arn" }, { fetch: async () => "" })()).rejects.toThrow(
      /no string value/,
    );
  });
});
