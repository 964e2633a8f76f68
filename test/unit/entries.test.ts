import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { resolveTokenSecret } from "../../lambda/core/token-secret.ts";
import { positiveIntEnv, requireEnv } from "../../lambda/runtime/environment.ts";
import { SECRET } from "../fixtures.ts";

const secrets = mockClient(SecretsManagerClient);

beforeEach(() => {
  vi.resetModules();
  vi.stubEnv("AWS_REGION", "eu-west-1");
  vi.stubEnv("POWERTOOLS_LOG_LEVEL", "SILENT");
});
afterEach(() => {
  vi.unstubAllEnvs();
  secrets.reset();
});

describe("Lambda entries", () => {
  it("fail at cold start naming a missing table variable", async () => {
    vi.stubEnv("CONNECTIONS_TABLE", "");
    await expect(import("../../lambda/entry/message.ts")).rejects.toThrow("CONNECTIONS_TABLE");
  });

  it("build the WebSocket handlers from the environment", async () => {
    vi.stubEnv("CONNECTIONS_TABLE", "connections");
    vi.stubEnv("HISTORY_TABLE", "history");
    for (const entry of [
      import("../../lambda/entry/connect.ts"),
      import("../../lambda/entry/message.ts"),
      import("../../lambda/entry/disconnect.ts"),
    ]) {
      expect(typeof (await entry).handler).toBe("function");
    }
  });

  it("read the token secret once from Secrets Manager when an ARN is given", async () => {
    vi.stubEnv("CHAT_TOKEN_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:chat-token");
    vi.stubEnv("CHAT_TOKEN_TTL", "120");
    secrets.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
    const { handler } = await import("../../lambda/entry/session.ts");
    const first = await handler({ body: '{"username":"Lucy"}' });
    await handler({ body: '{"username":"Bob"}' });
    expect(first.statusCode).toBe(200);
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    const { handler: authorize } = await import("../../lambda/entry/authorizer.ts");
    const { token } = JSON.parse(first.body);
    await expect(authorize({ methodArn: "arn", queryStringParameters: { token } })).resolves.toMatchObject({
      context: { username: "Lucy", channel: "default" },
    });
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

  it("resolves the secret from the environment or from the secret source", async () => {
    await expect(resolveTokenSecret({ CHAT_TOKEN_SECRET: "s" }, undefined)).resolves.toBe("s");
    await expect(resolveTokenSecret({ CHAT_TOKEN_SECRET_ARN: "arn" }, undefined)).rejects.toThrow(/no Secrets Manager/);
    await expect(resolveTokenSecret({ CHAT_TOKEN_SECRET_ARN: "arn" }, { fetch: async () => "" })).rejects.toThrow(
      /no string value/,
    );
  });
});
