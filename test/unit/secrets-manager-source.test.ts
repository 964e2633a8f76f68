import { createHash, createHmac } from "node:crypto";
import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SecretSourceError } from "../../lambda/core/token-secret.ts";
import {
  credentialsFromEnv,
  secretsManagerEndpoint,
  secretsManagerSource,
  secretsManagerSourceFromEnv,
} from "../../lambda/runtime/secrets-manager-source.ts";
import { SECRET } from "../fixtures.ts";
import {
  accessDenied,
  alwaysTheSecret,
  awsError,
  type FakeAnswer,
  type FakeSecretsManager,
  type ReceivedRequest,
  SECRET_ARN,
  startFakeSecretsManager,
  TEST_CREDENTIALS,
  throttled,
} from "./fake-secrets-manager.ts";

const REGION = "eu-west-1";
let fake: FakeSecretsManager;

beforeAll(async () => {
  fake = await startFakeSecretsManager();
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.requests.length = 0;
  fake.answers.length = 0;
  fake.script = alwaysTheSecret;
});

const source = (
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = TEST_CREDENTIALS,
) => secretsManagerSource({ region: REGION, credentials: async () => credentials, endpoint: fake.endpoint });

/** SigV4 recomputed from what arrived on the wire, with nothing but node:crypto. */
function expectedSignature(request: ReceivedRequest): string {
  const [, scope = "", signedHeaders = ""] =
    /Credential=[^/]+\/([^,]+), SignedHeaders=([^,]+), Signature=/.exec(String(request.headers.authorization)) ?? [];
  const [date = "", region = "", service = ""] = scope.split("/");
  const headerLines = signedHeaders
    .split(";")
    .map((name) => `${name}:${String(request.headers[name]).trim()}\n`)
    .join("");
  const sha256 = (value: string | Buffer) => createHash("sha256").update(value).digest("hex");
  const canonical = ["POST", request.url, "", headerLines, signedHeaders, sha256(request.body)].join("\n");
  const stringToSign = ["AWS4-HMAC-SHA256", request.headers["x-amz-date"], scope, sha256(canonical)].join("\n");
  const hmac = (key: string | Buffer, value: string) => createHmac("sha256", key).update(value).digest();
  const key = [date, region, service, "aws4_request"].reduce<Buffer | string>(
    (k, part) => hmac(k, part),
    `AWS4${TEST_CREDENTIALS.secretAccessKey}`,
  );
  return createHmac("sha256", key).update(stringToSign).digest("hex");
}

/** The error a read fails with, as a SecretSourceError. */
async function failureOf(read: Promise<string>): Promise<SecretSourceError> {
  const error = await read.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SecretSourceError);
  return error as SecretSourceError;
}

describe("secretsManagerSource", () => {
  it("reads the secret string with one POST of GetSecretValue in the awsJson1_1 protocol", async () => {
    await expect(source().fetch(SECRET_ARN)).resolves.toBe(SECRET);
    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests as [ReceivedRequest];
    expect(request.method).toBe("POST");
    expect(request.url).toBe("/");
    expect(request.headers["x-amz-target"]).toBe("secretsmanager.GetSecretValue");
    expect(request.headers["content-type"]).toBe("application/x-amz-json-1.1");
    expect(JSON.parse(request.body.toString("utf8"))).toEqual({ SecretId: SECRET_ARN });
  });

  it("signs the request with SigV4 for the secretsmanager service in its Region, session token included", async () => {
    await source().fetch(SECRET_ARN);
    const [request] = fake.requests as [ReceivedRequest];
    const authorization = String(request.headers.authorization);
    expect(authorization).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\\d{8}/${REGION}/secretsmanager/aws4_request, `),
    );
    const signed = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(";") ?? [];
    expect(signed).toEqual(
      expect.arrayContaining(["content-type", "host", "x-amz-date", "x-amz-security-token", "x-amz-target"]),
    );
    expect(request.headers["x-amz-security-token"]).toBe(TEST_CREDENTIALS.sessionToken);
    expect(authorization.split("Signature=")[1]).toBe(expectedSignature(request));
  });

  it("signs as SignatureV4 computes it for the same request, and not for another service", async () => {
    await source().fetch(SECRET_ARN);
    const [request] = fake.requests as [ReceivedRequest];
    const signedNames = (/SignedHeaders=([^,]+)/.exec(String(request.headers.authorization))?.[1] ?? "").split(";");
    const headers = Object.fromEntries(signedNames.map((name) => [name, String(request.headers[name])]));
    const date = String(request.headers["x-amz-date"]).replace(
      /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/,
      "$1-$2-$3T$4:$5:$6Z",
    );
    const signFor = async (service: string) => {
      const signer = new SignatureV4({ service, region: REGION, credentials: TEST_CREDENTIALS, sha256: Sha256 });
      const url = new URL(fake.endpoint);
      const again = await signer.sign(
        {
          method: "POST",
          protocol: "http:",
          hostname: url.hostname,
          port: Number(url.port),
          path: "/",
          query: {},
          headers,
          body: request.body.toString("utf8"),
        },
        { signingDate: new Date(date) },
      );
      return again.headers.authorization;
    };
    expect(await signFor("secretsmanager")).toBe(request.headers.authorization);
    expect(await signFor("execute-api")).not.toBe(request.headers.authorization);
  });

  it("signs without a session token when there is none", async () => {
    const { sessionToken: _, ...longTerm } = TEST_CREDENTIALS;
    await source(longTerm).fetch(SECRET_ARN);
    const [request] = fake.requests as [ReceivedRequest];
    expect(request.headers["x-amz-security-token"]).toBeUndefined();
    expect(String(request.headers.authorization).split("Signature=")[1]).toBe(expectedSignature(request));
  });

  it.each<[string, FakeAnswer, string]>([
    ["throttling (400 ThrottlingException)", throttled, "ThrottlingException"],
    [
      "throttling named with its namespace",
      awsError(400, "com.amazonaws.secretsmanager#ThrottlingException"),
      "ThrottlingException",
    ],
    ["a 429", awsError(429, "TooManyRequestsException"), "TooManyRequestsException"],
    ["an internal error (500)", awsError(500, "InternalServiceError"), "InternalServiceError"],
    ["a 503 of unknown type", awsError(503, "ServiceUnavailable"), "ServiceUnavailable"],
    ["a connection reset before any answer", "reset", "ECONNRESET"],
  ])("classifies %s as retryable", async (_, answer, code) => {
    fake.script = () => answer;
    const error = await failureOf(source().fetch(SECRET_ARN));
    expect(error).toMatchObject({ retryable: true, code });
  });

  it("classifies a refused connection as retryable", async () => {
    await fake.stopListening();
    try {
      const error = await failureOf(source().fetch(SECRET_ARN));
      expect(error).toMatchObject({ retryable: true, code: "ECONNREFUSED" });
    } finally {
      await fake.listen();
    }
  });

  it("gives up on a read with no answer when its signal aborts, as a retryable timeout", async () => {
    fake.script = () => "hang";
    const error = await failureOf(source().fetch(SECRET_ARN, AbortSignal.timeout(50)));
    expect(error).toMatchObject({ retryable: true, code: "TimeoutError" });
    expect(fake.requests).toHaveLength(1);
  });

  it.each<[string, FakeAnswer, string]>([
    ["access denied", accessDenied, "AccessDeniedException"],
    [
      "no such secret",
      awsError(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret."),
      "ResourceNotFoundException",
    ],
    ["a secret it cannot decrypt", awsError(400, "DecryptionFailure"), "DecryptionFailure"],
  ])("classifies %s as final, naming the error and the secret", async (_, answer, code) => {
    fake.script = () => answer;
    const error = await failureOf(source().fetch(SECRET_ARN));
    expect(error).toMatchObject({ retryable: false, code, status: 400 });
    expect(error.message).toContain(code);
    expect(error.message).toContain(SECRET_ARN);
  });

  it("answers an empty string for a secret with no string value", async () => {
    fake.script = () => ({ status: 200, secret: "" });
    await expect(source().fetch(SECRET_ARN)).resolves.toBe("");
  });
});

describe("Secrets Manager from the environment", () => {
  it("names each Region's public endpoint", () => {
    expect(secretsManagerEndpoint("us-east-1")).toBe("https://secretsmanager.us-east-1.amazonaws.com");
    expect(secretsManagerEndpoint("mx-central-1")).toBe("https://secretsmanager.mx-central-1.amazonaws.com");
    expect(secretsManagerEndpoint("cn-north-1")).toBe("https://secretsmanager.cn-north-1.amazonaws.com.cn");
  });

  it("needs a Region, checked when it is built", () => {
    expect(() => secretsManagerSourceFromEnv({})).toThrow(/AWS_REGION/);
  });

  it("takes the function's credentials and the service-specific endpoint variable", async () => {
    const env = {
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: fake.endpoint,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: TEST_CREDENTIALS.sessionToken,
    };
    await expect(secretsManagerSourceFromEnv(env).fetch(SECRET_ARN)).resolves.toBe(SECRET);
    const [request] = fake.requests as [ReceivedRequest];
    expect(request.headers["x-amz-security-token"]).toBe(TEST_CREDENTIALS.sessionToken);
    expect(String(request.headers.authorization).split("Signature=")[1]).toBe(expectedSignature(request));
  });

  it("fails, not retryably, without credentials, and sends nothing", async () => {
    await expect(credentialsFromEnv({})()).rejects.toThrow(/AWS_ACCESS_KEY_ID/);
    const error = await failureOf(
      secretsManagerSourceFromEnv({ AWS_REGION: REGION, AWS_ENDPOINT_URL: fake.endpoint }).fetch(SECRET_ARN),
    );
    expect(error).toMatchObject({ retryable: false, code: "CredentialsError" });
    expect(fake.requests).toHaveLength(0);
  });
});
