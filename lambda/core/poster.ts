import { createHash } from "node:crypto";
import type { Agent, IncomingMessage } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { type ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { jitteredDelay, sleep } from "./backoff.ts";
import { isRetryable } from "./broadcast.ts";
import { limits } from "./limits.ts";

/** What became of one post: delivered, the connection is gone (410), or it failed for another reason. */
export type PostOutcome = { status: "delivered" } | { status: "gone" } | { status: "failed"; error: unknown };

/** Sends bytes to one connection. */
export interface Poster {
  post(connectionId: string, data: Uint8Array): Promise<PostOutcome>;
}

/**
 * A 410 from the management API: the connection no longer exists. The SDK names it `GoneException` when API Gateway
 * sends the error type; the status code is checked too so a bare 410 is never mistaken for a failure to retry.
 */
export function isGone(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { name, $metadata } = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
  return name === "GoneException" || $metadata?.httpStatusCode === 410;
}

const DELIVERED: PostOutcome = { status: "delivered" };
const GONE: PostOutcome = { status: "gone" };

/** A {@link Poster} over the API Gateway Management API (`PostToConnection`). */
export function managementApiPoster(client: ApiGatewayManagementApiClient): Poster {
  return {
    async post(connectionId, data) {
      try {
        await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
        return DELIVERED;
      } catch (error) {
        return isGone(error) ? GONE : { status: "failed", error };
      }
    },
  };
}

/**
 * A refused post of {@link signedHttpPoster}, shaped as the SDK's service errors are: `name` is API Gateway's error
 * type (`GoneException`, `LimitExceededException`, …) and `$metadata.httpStatusCode` its status, which is what
 * {@link isGone} and the broadcast's `isRetryable` read.
 */
export class PostToConnectionError extends Error {
  override readonly name: string;
  readonly $metadata: { readonly httpStatusCode: number; readonly requestId?: string };

  constructor(type: string, status: number, message: string, requestId?: string) {
    super(message || `PostToConnection answered ${status}`);
    this.name = type;
    this.$metadata = { httpStatusCode: status, ...(requestId ? { requestId } : {}) };
  }
}

type RequestSigner = Awaited<ReturnType<ApiGatewayManagementApiClient["config"]["signer"]>>;
type SignableRequest = Parameters<RequestSigner["sign"]>[0];

/** Options of {@link signedHttpPoster}. */
export interface SignedHttpPosterOptions {
  /** The management API endpoint, `https://{domainName}/{stage}` (plain http for the local stack). */
  readonly endpoint: string;
  /** The SDK client whose own SigV4 signer (its credential provider, region and SHA-256) signs every post. */
  readonly client: ApiGatewayManagementApiClient;
  /** A keep-alive agent for the endpoint's protocol, with at least as many sockets as posts in flight. */
  readonly agent: Agent;
  /** Attempts per post when it fails for a passing reason (429, 5xx, no answer). Default: `limits.postMaxAttempts`. */
  readonly maxAttempts?: number;
  /** Base of the jittered backoff between those attempts. Default: 100 ms, the SDK's standard retry base. */
  readonly retryBaseMs?: number;
  /** A post with no answer after this long fails (and may be retried). Default: 10 s, well inside a route's 29 s. */
  readonly timeoutMs?: number;
  /** Waits between attempts. Default: a real timer. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The SigV4 service name of the management API, as the SDK's auth scheme for it says. */
const SIGNING_SERVICE = "execute-api";

/** The SDK's label encoding: `encodeURIComponent` plus the characters it leaves alone that RFC 3986 reserves. */
const encodeLabel = (value: string): string =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * SHA-256 of each body, by identity: a broadcast posts the same bytes to every member, so the payload hash SigV4 needs
 * is computed once per broadcast instead of once per post (the signer uses a given `x-amz-content-sha256` as is).
 */
const payloadHashes = new WeakMap<Uint8Array, string>();
function payloadHash(data: Uint8Array): string {
  let hash = payloadHashes.get(data);
  if (hash === undefined) {
    hash = createHash("sha256").update(data).digest("hex");
    payloadHashes.set(data, hash);
  }
  return hash;
}

/** API Gateway's error type: the `x-amzn-errortype` header (up to a `:`), else the JSON body's `__type` or `code`. */
function errorType(response: IncomingMessage, body: string): string {
  const header = response.headers["x-amzn-errortype"];
  if (typeof header === "string" && header) return header.split(":")[0] ?? header;
  try {
    const parsed = JSON.parse(body) as { __type?: unknown; code?: unknown };
    const type = typeof parsed.__type === "string" ? parsed.__type : parsed.code;
    if (typeof type === "string" && type) return type.split("#").pop() ?? type;
  } catch {
    // not JSON: fall through
  }
  return "Unknown";
}

/**
 * A lean {@link Poster}: `PostToConnection` as one SigV4-signed `http(s).request` over a keep-alive agent, signed by
 * the SDK client's own signer (built once, so credentials still come from the client's provider and refresh as they
 * do in the SDK). It skips the SDK's per-call machinery (middleware stack, serde, per-request signer), which costs
 * several times the signing itself (see bench/README.md). Answers as the SDK poster does: 2xx delivered, 410 gone,
 * anything else failed with an error whose `$metadata.httpStatusCode` the broadcast reads; 429, 5xx and network errors
 * are retried here up to `maxAttempts`, as the SDK's standard retry would. A body must not change once posted (its
 * payload hash is kept by identity).
 */
export function signedHttpPoster(options: SignedHttpPosterOptions): Poster {
  const { client, agent } = options;
  const url = new URL(options.endpoint);
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const basePath = url.pathname.replace(/\/+$/, "");
  const port = url.port ? Number(url.port) : undefined;
  const maxAttempts = Math.max(1, options.maxAttempts ?? limits.postMaxAttempts);
  const retryBaseMs = options.retryBaseMs ?? 100;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const wait = options.sleep ?? sleep;
  let signing: Promise<{ signer: RequestSigner; region: string }> | undefined;
  const signerOnce = () => {
    if (!signing) {
      signing = Promise.all([client.config.signer(), client.config.region()]).then(([signer, region]) => ({
        signer,
        region,
      }));
      // A failed resolution is not kept: the next post tries again.
      signing.catch(() => {
        signing = undefined;
      });
    }
    return signing;
  };

  const sign = async (unsigned: SignableRequest) => {
    const { signer, region } = await signerOnce();
    return signer.sign(unsigned, {
      // The SDK's clock-skew correction, kept on the client's config, applies here too.
      signingDate: new Date(Date.now() + (client.config.systemClockOffset ?? 0)),
      signingRegion: region,
      signingService: SIGNING_SERVICE,
    });
  };

  const once = async (connectionId: string, data: Uint8Array): Promise<PostOutcome> => {
    const unsigned: SignableRequest = {
      method: "POST",
      protocol: url.protocol,
      hostname: url.hostname,
      ...(port ? { port } : {}),
      path: `${basePath}/@connections/${encodeLabel(connectionId)}`,
      query: {},
      headers: {
        host: url.host,
        "content-type": "application/octet-stream",
        "content-length": String(data.byteLength),
        "x-amz-content-sha256": payloadHash(data),
      },
      body: data,
    };
    let signed: SignableRequest;
    try {
      signed = await sign(unsigned);
    } catch (error) {
      // Credentials not resolved (yet): a failure of this post, retried like a network error, never a crash.
      return { status: "failed", error };
    }
    return new Promise<PostOutcome>((resolve) => {
      const request = send(
        { agent, method: "POST", hostname: url.hostname, port, path: unsigned.path, headers: signed.headers },
        (response) => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            response.resume();
            response.once("end", () => resolve(DELIVERED));
            return;
          }
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.once("end", () => {
            if (status === 410) return resolve(GONE);
            const body = Buffer.concat(chunks).toString("utf8");
            let message = "";
            try {
              message = String((JSON.parse(body) as { message?: unknown }).message ?? "");
            } catch {
              message = body.slice(0, 200);
            }
            const requestId = response.headers["x-amzn-requestid"];
            const error = new PostToConnectionError(
              errorType(response, body),
              status,
              message,
              typeof requestId === "string" ? requestId : undefined,
            );
            resolve({ status: "failed", error });
          });
          response.once("error", (error) => resolve({ status: "failed", error }));
        },
      );
      request.setTimeout(timeoutMs, () => request.destroy(new Error(`PostToConnection: no answer in ${timeoutMs} ms`)));
      request.once("error", (error) => resolve({ status: "failed", error }));
      request.end(data);
    });
  };

  return {
    async post(connectionId, data) {
      for (let attempt = 1; ; attempt++) {
        const outcome = await once(connectionId, data);
        if (outcome.status !== "failed" || attempt >= maxAttempts || !isRetryable(outcome.error)) return outcome;
        await wait(jitteredDelay(attempt, retryBaseMs));
      }
    },
  };
}
