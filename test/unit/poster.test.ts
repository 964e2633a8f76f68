import { createHash, createHmac } from "node:crypto";
import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { awsErrorType } from "../../lambda/core/aws-http.ts";
import {
  isRetryable,
  managementApiPoster,
  type PostOutcome,
  PostTimeoutError,
  signedHttpPoster,
} from "../../lambda/core/poster.ts";
import { posterCache } from "../../lambda/runtime/aws-clients.ts";
import { managementClient } from "../../lambda/runtime/management-client.ts";

const CREDENTIALS = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const REGION = "eu-west-1";
const CONNECTION_ID = "L0SM9cOFvHcCIhw=";

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

/** A stand-in for the management API: answers each post with the next scripted answer (200 when none is left). */
let server: Server;
let endpoint: string;
let received: Received[] = [];
let answers: ((response: ServerResponse) => void)[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({
        method: request.method ?? "",
        url: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks),
      });
      const answer = answers.shift() ?? ((r: ServerResponse) => r.writeHead(200, { "content-length": 0 }).end());
      answer(response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
afterEach(() => {
  received = [];
  answers = [];
});

const awsError = (status: number, type: string) => (response: ServerResponse) => {
  const body = JSON.stringify({ message: `${type} (test)` });
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "x-amzn-errortype": type,
  });
  response.end(body);
};

const client = () => new ApiGatewayManagementApiClient({ region: REGION, endpoint, credentials: CREDENTIALS });
const lean = (options: { maxAttempts?: number } = {}) =>
  signedHttpPoster({
    endpoint,
    region: REGION,
    credentials: async () => CREDENTIALS,
    agent: new Agent({ keepAlive: true }),
    sleep: async () => {},
    ...options,
  });
const data = Buffer.from('{"type":"message","message":"hi"}');
const errorOf = (outcome: PostOutcome) => (outcome.status === "failed" ? outcome.error : undefined);

/** SigV4 recomputed from what arrived on the wire, independently of the SDK. */
function expectedSignature(request: Received, secretAccessKey = CREDENTIALS.secretAccessKey): string {
  const authorization = String(request.headers.authorization);
  const [, scope = "", signedHeaders = ""] =
    /Credential=[^/]+\/([^,]+), SignedHeaders=([^,]+), Signature=/.exec(authorization) ?? [];
  const [date = "", region = "", service = ""] = scope.split("/");
  const canonicalPath = request.url
    .split("/")
    .map((segment) => encodeURIComponent(segment))
    .join("/");
  const headerLines = signedHeaders
    .split(";")
    .map((name) => `${name}:${String(request.headers[name]).trim()}\n`)
    .join("");
  const sha256 = (value: string | Buffer) => createHash("sha256").update(value).digest("hex");
  const canonical = ["POST", canonicalPath, "", headerLines, signedHeaders, sha256(request.body)].join("\n");
  const stringToSign = ["AWS4-HMAC-SHA256", request.headers["x-amz-date"], scope, sha256(canonical)].join("\n");
  const hmac = (key: string | Buffer, value: string) => createHmac("sha256", key).update(value).digest();
  const key = [date, region, service, "aws4_request"].reduce<Buffer | string>(
    (k, part) => hmac(k, part),
    `AWS4${secretAccessKey}`,
  );
  return createHmac("sha256", key).update(stringToSign).digest("hex");
}

describe("signedHttpPoster", () => {
  it("delivers a post answered 200, sending the bytes to the connection's path", async () => {
    const outcome = await lean().post(CONNECTION_ID, data);
    expect(outcome).toEqual({ status: "delivered" });
    expect(received).toHaveLength(1);
    expect(received[0]?.method).toBe("POST");
    expect(received[0]?.url).toBe("/prod/@connections/L0SM9cOFvHcCIhw%3D");
    expect(received[0]?.body.equals(data)).toBe(true);
  });

  it("signs each post with SigV4 for execute-api in its region", async () => {
    await lean().post(CONNECTION_ID, data);
    const request = received[0] as Received;
    expect(request.headers.authorization).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\\d{8}/${REGION}/execute-api/aws4_request, `),
    );
    expect(String(request.headers.authorization).split("Signature=")[1]).toBe(expectedSignature(request));
  });

  it("signs exactly as the SDK's SignatureV4 does, session token included", async () => {
    const withToken = new ApiGatewayManagementApiClient({
      region: REGION,
      endpoint,
      credentials: { ...CREDENTIALS, sessionToken: "a-session-token" },
    });
    await signedHttpPoster({
      endpoint,
      region: REGION,
      credentials: async () => ({ ...CREDENTIALS, sessionToken: "a-session-token" }),
      agent: new Agent({ keepAlive: true }),
    }).post(CONNECTION_ID, data);
    const request = received[0] as Received;
    expect(request.headers["x-amz-security-token"]).toBe("a-session-token");
    const signingDate = new Date(
      String(request.headers["x-amz-date"]).replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, "$1-$2-$3T$4:$5:$6Z"),
    );
    const sdk = await (await withToken.config.signer()).sign(
      {
        method: "POST",
        protocol: "http:",
        hostname: "127.0.0.1",
        port: Number(new URL(endpoint).port),
        path: request.url,
        query: {},
        headers: {
          host: String(request.headers.host),
          "content-type": "application/octet-stream",
          "content-length": String(data.byteLength),
        },
        body: data,
      },
      { signingDate, signingRegion: REGION, signingService: "execute-api" },
    );
    expect(request.headers.authorization).toBe(sdk.headers.authorization);
  });

  it("signs with the new key as soon as the provider's credentials change", async () => {
    const rotated = { accessKeyId: "AKIDROTATED", secretAccessKey: "another-secret-access-key" };
    const answersOf = [CREDENTIALS, rotated, CREDENTIALS];
    const poster = signedHttpPoster({
      endpoint,
      region: REGION,
      credentials: async () => answersOf[received.length] ?? CREDENTIALS,
      agent: new Agent({ keepAlive: true }),
    });
    for (let i = 0; i < answersOf.length; i++) await poster.post(CONNECTION_ID, data);
    expect(received.map((request) => String(request.headers.authorization).split("Signature=")[1])).toEqual([
      expectedSignature(received[0] as Received),
      expectedSignature(received[1] as Received, rotated.secretAccessKey),
      expectedSignature(received[2] as Received),
    ]);
    expect(String(received[1]?.headers.authorization)).toContain("Credential=AKIDROTATED/");
  });

  it("sends what the SDK sends: the same path, content type and body", async () => {
    await managementApiPoster(client()).post(CONNECTION_ID, data);
    await lean().post(CONNECTION_ID, data);
    const [sdk, ours] = received;
    expect(ours?.url).toBe(sdk?.url);
    expect(ours?.headers["content-type"]).toBe(sdk?.headers["content-type"]);
    expect(ours?.body.equals(sdk?.body ?? Buffer.alloc(0))).toBe(true);
  });

  it("answers gone for a 410 GoneException", async () => {
    answers.push(awsError(410, "GoneException"));
    expect(await lean().post(CONNECTION_ID, data)).toEqual({ status: "gone" });
  });

  it("fails a 429 with the SDK's error shape, retryable, after its bounded attempts", async () => {
    answers.push(...Array.from({ length: 3 }, () => awsError(429, "LimitExceededException")));
    const error = errorOf(await lean({ maxAttempts: 3 }).post(CONNECTION_ID, data));
    expect(error).toMatchObject({ name: "LimitExceededException", $metadata: { httpStatusCode: 429 } });
    expect(isRetryable(error)).toBe(true);
    expect(received).toHaveLength(3);
  });

  it("retries a passing failure and delivers when the next attempt succeeds", async () => {
    answers.push(awsError(503, "ServiceUnavailableException"));
    expect(await lean().post(CONNECTION_ID, data)).toEqual({ status: "delivered" });
    expect(received).toHaveLength(2);
  });

  it("fails a 403 at once, not retryable", async () => {
    answers.push(awsError(403, "ForbiddenException"));
    const error = errorOf(await lean().post(CONNECTION_ID, data));
    expect(error).toMatchObject({ name: "ForbiddenException", $metadata: { httpStatusCode: 403 } });
    expect(isRetryable(error)).toBe(false);
    expect(received).toHaveLength(1);
  });

  it("fails a refused post with the type and message of a JSON body when no header names the type", async () => {
    const body = JSON.stringify({ __type: "com.amazonaws.apigateway#ForbiddenException", message: "not yours" });
    answers.push((response) => response.writeHead(403, { "content-length": Buffer.byteLength(body) }).end(body));
    const error = errorOf(await lean().post(CONNECTION_ID, data));
    expect(error).toMatchObject({ name: "ForbiddenException", message: "not yours" });
  });

  it("fails a refused post whose body is not JSON as Unknown, with the raw text as its message", async () => {
    answers.push((response) => response.writeHead(403, { "content-length": 9 }).end("Forbidden"));
    const error = errorOf(await lean().post(CONNECTION_ID, data));
    expect(error).toMatchObject({ name: "Unknown", message: "Forbidden", $metadata: { httpStatusCode: 403 } });
  });

  it("fails a post that gets no answer (network error) as retryable", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const poster = signedHttpPoster({
      endpoint: `http://127.0.0.1:${port}/prod`,
      region: REGION,
      credentials: async () => CREDENTIALS,
      agent: new Agent({ keepAlive: true }),
      maxAttempts: 1,
    });
    const outcome = await poster.post(CONNECTION_ID, data);
    expect(outcome.status).toBe("failed");
    expect(isRetryable(errorOf(outcome))).toBe(true);
  });
});

describe("awsErrorType (the poster's and the Secrets Manager source's rule)", () => {
  it.each<[string, Record<string, string>, unknown, string]>([
    ["the header, up to a colon", { "x-amzn-errortype": "GoneException:http://internal" }, {}, "GoneException"],
    ["the header before the body", { "x-amzn-errortype": "Throttled" }, { __type: "Other" }, "Throttled"],
    ["the body's __type, after its namespace", {}, { __type: "com.amazonaws.x#LimitExceeded" }, "LimitExceeded"],
    ["the body's code when there is no __type", {}, { code: "AccessDenied" }, "AccessDenied"],
    ["__type before code", {}, { __type: "A", code: "B" }, "A"],
    ["Unknown for an empty header and a body without a type", { "x-amzn-errortype": "" }, {}, "Unknown"],
    ["Unknown for a body that is not an object", {}, "ThrottlingException", "Unknown"],
    ["Unknown for no body", {}, undefined, "Unknown"],
    ["Unknown for a JSON null", {}, null, "Unknown"],
  ])("reads %s", (_, headers, body, type) => {
    expect(awsErrorType(headers, body)).toBe(type);
  });
});

describe("a post's time limit", () => {
  it("ends a post that gets no answer within the time it was given, as a timeout that is not made again", async () => {
    answers.push(() => {}); // never answered
    const outcome = await lean().post(CONNECTION_ID, data, { timeoutMs: 150 });
    const error = errorOf(outcome);
    expect(error).toBeInstanceOf(PostTimeoutError);
    expect((error as PostTimeoutError).timeoutMs).toBeLessThanOrEqual(150);
    expect(isRetryable(error)).toBe(false);
    expect(received).toHaveLength(1);
  });

  it("caps each attempt at the poster's own timeout when the post's time is longer", async () => {
    answers.push(() => {});
    const poster = signedHttpPoster({
      endpoint,
      region: REGION,
      credentials: async () => CREDENTIALS,
      agent: new Agent({ keepAlive: true }),
      timeoutMs: 100,
    });
    const error = errorOf(await poster.post(CONNECTION_ID, data, { timeoutMs: 60_000 }));
    expect(error).toMatchObject({ name: "PostTimeoutError", timeoutMs: 100 });
  });

  it("makes no further attempt when too little of the post's time is left, so the caller may post later", async () => {
    answers.push(awsError(503, "ServiceUnavailable"), awsError(503, "ServiceUnavailable"));
    const outcome = await lean().post(CONNECTION_ID, data, { timeoutMs: 500 });
    expect(errorOf(outcome)).toMatchObject({ $metadata: { httpStatusCode: 503 } });
    expect(isRetryable(errorOf(outcome))).toBe(true);
    expect(received).toHaveLength(1);
  });

  it("aborts the SDK poster's request when the post's time has passed, as a failure not made again", async () => {
    answers.push(() => {});
    const poster = managementApiPoster(managementClient(endpoint, { region: REGION, credentials: CREDENTIALS }));
    const outcome = await poster.post(CONNECTION_ID, data, { timeoutMs: 150 });
    expect(outcome.status).toBe("failed");
    expect(errorOf(outcome)).toMatchObject({ name: "AbortError" });
    expect(isRetryable(errorOf(outcome))).toBe(false);
  });

  it("retries as before when the post's time allows it", async () => {
    answers.push(awsError(503, "ServiceUnavailable"), awsError(503, "ServiceUnavailable"));
    expect(await lean().post(CONNECTION_ID, data, { timeoutMs: 20_000 })).toEqual({ status: "delivered" });
    expect(received).toHaveLength(3);
  });
});

describe("managementClient", () => {
  it("leaves out the middleware a post does not need and reuses one signer", async () => {
    const tuned = managementClient(endpoint, { region: REGION, credentials: CREDENTIALS });
    const names = tuned.middlewareStack.identify().join(" ");
    expect(names).not.toMatch(/loggerMiddleware|getUserAgentMiddleware|recursionDetectionMiddleware/);
    expect(await tuned.config.signer()).toBe(await tuned.config.signer());
  });

  it("still posts, signed, and reports a 410 as gone", async () => {
    const poster = managementApiPoster(managementClient(endpoint, { region: REGION, credentials: CREDENTIALS }));
    answers.push(awsError(410, "GoneException"));
    expect(await poster.post(CONNECTION_ID, data)).toEqual({ status: "gone" });
    expect(await poster.post(CONNECTION_ID, data)).toEqual({ status: "delivered" });
    expect(String(received[1]?.headers.authorization).split("Signature=")[1]).toBe(
      expectedSignature(received[1] as Received),
    );
  });
});

describe("posterCache", () => {
  it("builds one lean poster per endpoint that delivers, signed with the given Region and credentials", async () => {
    const posterFor = posterCache({ region: REGION, credentials: CREDENTIALS });
    expect(posterFor(endpoint)).toBe(posterFor(endpoint));
    expect(await posterFor(endpoint).post(CONNECTION_ID, data)).toEqual({ status: "delivered" });
    const request = received[0] as Received;
    expect(request.headers.authorization).toContain(`Credential=${CREDENTIALS.accessKeyId}/`);
    expect(String(request.headers.authorization).split("Signature=")[1]).toBe(expectedSignature(request));
  });

  it("refuses to start without a Region to sign for", () => {
    const saved = process.env.AWS_REGION;
    delete process.env.AWS_REGION;
    try {
      expect(() => posterCache({ credentials: CREDENTIALS })).toThrow(/AWS_REGION/);
    } finally {
      if (saved !== undefined) process.env.AWS_REGION = saved;
    }
  });

  it("fails a credentials provider that throws as a retryable failed post, not a crash", async () => {
    const poster = signedHttpPoster({
      endpoint,
      region: REGION,
      credentials: async () => {
        throw new Error("no credentials yet");
      },
      agent: new Agent({ keepAlive: true }),
      maxAttempts: 1,
    });
    const outcome = await poster.post(CONNECTION_ID, data);
    expect(outcome.status).toBe("failed");
    expect(String(errorOf(outcome))).toContain("no credentials yet");
    expect(received).toHaveLength(0);
  });
});
