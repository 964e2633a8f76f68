import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { resolveTokenSecret } from "../../lambda/core/token-secret.ts";
import { positiveIntEnv, requireEnv } from "../../lambda/runtime/environment.ts";
import { SECRET } from "../fixtures.ts";

beforeEach(() => {
  vi.resetModules();
  vi.stubEnv("AWS_REGION", "eu-west-1");
  vi.stubEnv("POWERTOOLS_LOG_LEVEL", "SILENT");
});
afterEach(() => {
  vi.unstubAllEnvs();
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

  it("read the token secret once, through the secrets extension, when an ARN is given", async () => {
    const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:chat-token";
    const calls: { url: string; token: string | undefined }[] = [];
    const extension = createServer((request, response) => {
      calls.push({
        url: request.url ?? "",
        token: request.headers["x-aws-parameters-secrets-token"] as string | undefined,
      });
      response
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ ARN: arn, SecretString: SECRET }));
    });
    await new Promise<void>((resolve) => extension.listen(0, "127.0.0.1", resolve));
    try {
      vi.stubEnv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", String((extension.address() as AddressInfo).port));
      vi.stubEnv("AWS_SESSION_TOKEN", "session-token-of-this-environment");
      vi.stubEnv("CHAT_TOKEN_SECRET_ARN", arn);
      vi.stubEnv("CHAT_TOKEN_TTL", "120");
      const { handler } = await import("../../lambda/entry/session.ts");
      const first = await handler({ body: '{"username":"Lucy"}' });
      await handler({ body: '{"username":"Bob"}' });
      expect(first.statusCode).toBe(200);
      expect(calls).toEqual([
        { url: `/secretsmanager/get?secretId=${encodeURIComponent(arn)}`, token: "session-token-of-this-environment" },
      ]);
      const { handler: authorize } = await import("../../lambda/entry/authorizer.ts");
      const { token } = JSON.parse(first.body);
      await expect(authorize({ methodArn: "arn", queryStringParameters: { token } })).resolves.toMatchObject({
        context: { username: "Lucy", channel: "default" },
      });
    } finally {
      extension.close();
    }
  });

  it("fail at cold start, saying why, when the secrets extension refuses", async () => {
    const extension = createServer((_, response) => response.writeHead(400).end("bad token"));
    await new Promise<void>((resolve) => extension.listen(0, "127.0.0.1", resolve));
    try {
      vi.stubEnv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", String((extension.address() as AddressInfo).port));
      vi.stubEnv("CHAT_TOKEN_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:chat-token");
      await expect(import("../../lambda/entry/authorizer.ts")).rejects.toThrow(/answered 400/);
    } finally {
      extension.close();
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

  it("resolves the secret from the environment or from the secret source", async () => {
    await expect(resolveTokenSecret({ CHAT_TOKEN_SECRET: "s" }, undefined)).resolves.toBe("s");
    await expect(resolveTokenSecret({ CHAT_TOKEN_SECRET_ARN: "arn" }, undefined)).rejects.toThrow(/no Secrets Manager/);
    await expect(resolveTokenSecret({ CHAT_TOKEN_SECRET_ARN: "arn" }, { fetch: async () => "" })).rejects.toThrow(
      /no string value/,
    );
  });
});
