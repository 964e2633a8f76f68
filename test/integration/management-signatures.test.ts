import { Agent, request as httpRequest } from "node:http";
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedHttpPoster } from "../../lambda/core/poster.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws.ts";
import type { LocalStack } from "../../local/local-stack.ts";
import { type ChatClient, connect, eventually, startTestStack, storedConnections } from "./harness.ts";

/**
 * The management API checks SigV4 signatures as API Gateway does (IAM authorization, service `execute-api`), so a
 * fault in how the functions sign fails here as it would on AWS, instead of only once deployed.
 */

let stack: LocalStack;
const agent = new Agent({ keepAlive: true });
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  agent.destroy();
  await stack.close();
});

/** The connection id the emulator gave the newest connection of `username` in `channel`. */
async function connectionIdOf(username: string, channel: string): Promise<string> {
  let id: string | undefined;
  await eventually(async () => {
    id = (await storedConnections(stack)).find((item) => item.username === username && item.channel === channel)
      ?.connectionId as string | undefined;
    return id !== undefined;
  });
  return id as string;
}

const sdkClient = (options: { region?: string; secretAccessKey?: string } = {}) =>
  new ApiGatewayManagementApiClient({
    endpoint: stack.managementEndpoint,
    region: options.region ?? LOCAL_REGION,
    credentials: {
      ...LOCAL_CREDENTIALS,
      ...(options.secretAccessKey ? { secretAccessKey: options.secretAccessKey } : {}),
    },
    // The SDK takes InvalidSignatureException for a clock skew and tries again; once is enough to see the refusal.
    maxAttempts: 1,
  });

const posterFor = (region = LOCAL_REGION) =>
  signedHttpPoster({
    endpoint: stack.managementEndpoint,
    region,
    credentials: async () => LOCAL_CREDENTIALS,
    agent,
    maxAttempts: 1,
  });

const pong = (timestamp: number) => Buffer.from(JSON.stringify({ type: "pong", timestamp }));

interface RawRequest {
  method?: "POST" | "GET" | "DELETE";
  connectionId: string;
  body?: Buffer;
  /** Headers to send: by default those of a signature by {@link sign}. */
  headers?: Record<string, string>;
}

/** SigV4 headers for a management API request, signed by the SDK's signer with the given key, Region and date. */
async function sign(
  { method = "POST", connectionId, body }: RawRequest,
  options: { secretAccessKey?: string; region?: string; signingDate?: Date } = {},
): Promise<Record<string, string>> {
  const url = new URL(`${stack.managementEndpoint}/@connections/${encodeURIComponent(connectionId)}`);
  const signer = new SignatureV4({
    service: "execute-api",
    region: options.region ?? LOCAL_REGION,
    credentials: {
      ...LOCAL_CREDENTIALS,
      secretAccessKey: options.secretAccessKey ?? LOCAL_CREDENTIALS.secretAccessKey,
    },
    sha256: Sha256,
  });
  const signed = await signer.sign(
    {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: {},
      headers: {
        host: url.host,
        ...(body ? { "content-type": "application/octet-stream", "content-length": String(body.byteLength) } : {}),
      },
      body,
    },
    { signingDate: options.signingDate ?? new Date() },
  );
  return signed.headers;
}

/** A request written as given (no header added but the host), and what it was answered. */
function send({ method = "POST", connectionId, body, headers = {} }: RawRequest): Promise<{
  status: number;
  type: string | undefined;
  message: string;
}> {
  const url = new URL(`${stack.managementEndpoint}/@connections/${encodeURIComponent(connectionId)}`);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { agent, method, hostname: url.hostname, port: url.port, path: url.pathname, headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.once("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({
            status: response.statusCode ?? 0,
            type: response.headers["x-amzn-errortype"] as string | undefined,
            message: text ? (JSON.parse(text) as { message: string }).message : "",
          });
        });
      },
    );
    request.once("error", reject);
    request.end(body);
  });
}

/** The name and status of the error a call failed with. */
async function refusalOf(call: Promise<unknown>): Promise<{ name: string; status: number } | "succeeded"> {
  try {
    await call;
    return "succeeded";
  } catch (error) {
    const { name, $metadata } = error as { name: string; $metadata: { httpStatusCode: number } };
    return { name, status: $metadata.httpStatusCode };
  }
}

/** Delivers a marker through the product's poster and waits for it, so that any frame sent before it has arrived. */
async function markerArrives(client: ChatClient, id: string, timestamp: number): Promise<void> {
  expect(await posterFor().post(id, pong(timestamp))).toEqual({ status: "delivered" });
  expect(await client.next((frame) => frame.type === "pong" && frame.timestamp === timestamp)).toBeDefined();
}

describe("the management API's SigV4 check", () => {
  it("accepts a post signed by the product's poster, and GetConnection and DeleteConnection from the SDK", async () => {
    const client = await connect(stack, "Signed", "sig-ok");
    const id = await connectionIdOf("Signed", "sig-ok");
    const poster = posterFor();
    const management = sdkClient();

    expect(await poster.post(id, pong(1))).toEqual({ status: "delivered" });
    expect(await client.ofType("pong")).toEqual({ type: "pong", timestamp: 1 });
    expect(await poster.probe?.(id)).toEqual({ status: "delivered" });
    await management.send(new PostToConnectionCommand({ ConnectionId: id, Data: pong(2) }));
    expect(await client.ofType("pong")).toEqual({ type: "pong", timestamp: 2 });
    const described = await management.send(new GetConnectionCommand({ ConnectionId: id }));
    expect(described.ConnectedAt).toBeInstanceOf(Date);
    await management.send(new DeleteConnectionCommand({ ConnectionId: id }));
    expect((await client.closed).code).toBe(1000);
    management.destroy();
  });

  it("checks signatures on the stack's own port too (its /local/@connections paths)", async () => {
    const client = await connect(stack, "Main", "sig-main");
    const id = await connectionIdOf("Main", "sig-main");
    const endpoint = `${stack.url}/local`;
    const unsigned = await fetch(`${endpoint}/@connections/${encodeURIComponent(id)}`, { method: "POST", body: "x" });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get("x-amzn-errortype")).toBe("MissingAuthenticationTokenException");
    const poster = signedHttpPoster({
      endpoint,
      region: LOCAL_REGION,
      credentials: async () => LOCAL_CREDENTIALS,
      agent,
      maxAttempts: 1,
    });
    expect(await poster.post(id, pong(7))).toEqual({ status: "delivered" });
    expect(await client.ofType("pong")).toEqual({ type: "pong", timestamp: 7 });
    // The unsigned "x" never came: the first frame after the refusal is the signed pong.
    expect(client.frames.some((frame) => (frame as unknown) === "x")).toBe(false);
    await client.close();
  });

  it("refuses unsigned and badly signed requests with 403 as API Gateway does, and delivers none of them", async () => {
    const client = await connect(stack, "Guarded", "sig-refused");
    const id = await connectionIdOf("Guarded", "sig-refused");
    const fiveMinutes = 5 * 60_000;
    const body = pong(101);
    const cases: [string, () => Promise<RawRequest>, string, RegExp][] = [
      [
        "unsigned",
        async () => ({ connectionId: id, body, headers: { "content-type": "application/octet-stream" } }),
        "MissingAuthenticationTokenException",
        /^Missing Authentication Token$/,
      ],
      [
        "unsigned GetConnection",
        async () => ({ method: "GET", connectionId: id }),
        "MissingAuthenticationTokenException",
        /^Missing Authentication Token$/,
      ],
      [
        "unsigned DeleteConnection",
        async () => ({ method: "DELETE", connectionId: id }),
        "MissingAuthenticationTokenException",
        /^Missing Authentication Token$/,
      ],
      [
        "signed with another secret key",
        async () => {
          const request = { connectionId: id, body: pong(102) };
          return { ...request, headers: await sign(request, { secretAccessKey: "not-the-local-secret" }) };
        },
        "InvalidSignatureException",
        /^The request signature we calculated does not match the signature you provided\./,
      ],
      [
        "DeleteConnection signed with another secret key",
        async () => {
          const request = { method: "DELETE" as const, connectionId: id };
          return { ...request, headers: await sign(request, { secretAccessKey: "not-the-local-secret" }) };
        },
        "InvalidSignatureException",
        /^The request signature we calculated does not match/,
      ],
      [
        "signed for another Region",
        async () => {
          const request = { connectionId: id, body: pong(103) };
          return { ...request, headers: await sign(request, { region: "eu-west-1" }) };
        },
        "InvalidSignatureException",
        /^Credential should be scoped to a valid region, not 'eu-west-1'\./,
      ],
      [
        "whose body was changed after signing",
        async () => {
          // The same length, so content-length (signed) still holds: only the payload's hash tells.
          const headers = await sign({ connectionId: id, body: pong(104) });
          return { connectionId: id, body: pong(105), headers };
        },
        "InvalidSignatureException",
        /^The request signature we calculated does not match/,
      ],
      [
        "with an x-amz-date over 5 minutes old",
        async () => {
          const request = { connectionId: id, body: pong(106) };
          const signingDate = new Date(Date.now() - fiveMinutes - 60_000);
          return { ...request, headers: await sign(request, { signingDate }) };
        },
        "InvalidSignatureException",
        /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/,
      ],
      [
        "with an x-amz-date over 5 minutes ahead",
        async () => {
          const request = { connectionId: id, body: pong(107) };
          const signingDate = new Date(Date.now() + fiveMinutes + 60_000);
          return { ...request, headers: await sign(request, { signingDate }) };
        },
        "InvalidSignatureException",
        /^Signature not yet current: /,
      ],
      [
        "with an Authorization header that is no SigV4 one",
        async () => ({ connectionId: id, body: pong(108), headers: { authorization: "Bearer abc" } }),
        "IncompleteSignatureException",
        /^'abc' not a valid key=value pair \(missing equal-sign\) in Authorization header: 'Bearer abc'\.$/,
      ],
      [
        "with an Authorization header that lacks its signature",
        async () => {
          const request = { connectionId: id, body: pong(109) };
          const headers = await sign(request);
          const authorization = (headers.authorization as string).replace(/, Signature=[0-9a-f]+$/, "");
          return { ...request, headers: { ...headers, authorization } };
        },
        "IncompleteSignatureException",
        /^Authorization header requires 'Signature' parameter\. Authorization=AWS4-HMAC-SHA256 Credential=/,
      ],
      [
        "that signs no host",
        async () => {
          const request = { connectionId: id, body: pong(110) };
          const headers = await sign(request);
          const authorization = (headers.authorization as string).replace(";host;", ";");
          return { ...request, headers: { ...headers, authorization } };
        },
        "IncompleteSignatureException",
        /^'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization\.$/,
      ],
    ];

    for (const [what, make, type, message] of cases) {
      const answer = await send(await make());
      expect({ what, status: answer.status, type: answer.type }).toEqual({ what, status: 403, type });
      expect(answer.message, what).toMatch(message);
    }

    // Still connected (no DELETE went through), and nothing refused arrived before a signed post did.
    await markerArrives(client, id, 199);
    expect(client.frames.filter((frame) => frame.type === "pong")).toEqual([]);
    await client.close();
  });

  it("gives the SDK client and the product's poster the refusal's exception name", async () => {
    const client = await connect(stack, "Named", "sig-names");
    const id = await connectionIdOf("Named", "sig-names");
    const wrongKey = sdkClient({ secretAccessKey: "not-the-local-secret" });
    const wrongRegion = sdkClient({ region: "eu-west-1" });

    for (const management of [wrongKey, wrongRegion]) {
      const refusals = await Promise.all([
        refusalOf(management.send(new PostToConnectionCommand({ ConnectionId: id, Data: pong(201) }))),
        refusalOf(management.send(new GetConnectionCommand({ ConnectionId: id }))),
        refusalOf(management.send(new DeleteConnectionCommand({ ConnectionId: id }))),
      ]);
      expect(refusals).toEqual(Array(3).fill({ name: "InvalidSignatureException", status: 403 }));
      management.destroy();
    }
    const refused = await posterFor("eu-west-1").post(id, pong(202));
    expect(refused).toMatchObject({
      status: "failed",
      error: { name: "InvalidSignatureException", $metadata: { httpStatusCode: 403 } },
    });

    await markerArrives(client, id, 299);
    expect(client.frames.filter((frame) => frame.type === "pong")).toEqual([]);
    await client.close();
  });
});
