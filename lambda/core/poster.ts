import { createHash, createHmac } from "node:crypto";
import type { Agent, IncomingMessage } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import {
  type ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { Sha256 } from "@smithy/core/checksum";
import { createScope, getSigningKey } from "@smithy/signature-v4";
import { type AwsCredentials, awsErrorType } from "./aws-http.ts";
import { jitteredDelay, sleep } from "./backoff.ts";
import { limits } from "./limits.ts";
import {
  isGone,
  isRetryable,
  type Poster,
  type PostOutcome,
  PostTimeoutError,
  PostToConnectionError,
} from "./post-outcome.ts";

export {
  isGone,
  isRetryable,
  type Poster,
  type PostOptions,
  type PostOutcome,
  PostTimeoutError,
  PostToConnectionError,
} from "./post-outcome.ts";

const DELIVERED: PostOutcome = { status: "delivered" };
const GONE: PostOutcome = { status: "gone" };

/**
 * A {@link Poster} over the API Gateway Management API (`PostToConnection`). A post's `timeoutMs` aborts the SDK's
 * request (its retries included) once that time has passed.
 */
export function managementApiPoster(client: ApiGatewayManagementApiClient): Poster {
  return {
    async post(connectionId, data, options) {
      try {
        const command = new PostToConnectionCommand({ ConnectionId: connectionId, Data: data });
        if (options?.timeoutMs === undefined) await client.send(command);
        else await client.send(command, { abortSignal: AbortSignal.timeout(Math.max(1, options.timeoutMs)) });
        return DELIVERED;
      } catch (error) {
        return isGone(error) ? GONE : { status: "failed", error };
      }
    },
    async close(connectionId) {
      try {
        await client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
        return DELIVERED;
      } catch (error) {
        return isGone(error) ? GONE : { status: "failed", error };
      }
    },
    async probe(connectionId) {
      try {
        await client.send(new GetConnectionCommand({ ConnectionId: connectionId }));
        return DELIVERED;
      } catch (error) {
        return isGone(error) ? GONE : { status: "failed", error };
      }
    },
  };
}

/** Options of {@link signedHttpPoster}. */
export interface SignedHttpPosterOptions {
  /**
   * The management API endpoint, `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}` (plain http for the
   * local stack).
   */
  readonly endpoint: string;
  /** The API's Region, which the signature's scope names. */
  readonly region: string;
  /**
   * Where each post's credentials come from: asked before every signature, so credentials that a provider refreshes
   * are used as they change (as an SDK client's provider is).
   */
  readonly credentials: () => Promise<AwsCredentials>;
  /** A keep-alive agent for the endpoint's protocol, with at least as many sockets as posts in flight. */
  readonly agent: Agent;
  /** Attempts per post when it fails for a passing reason (429, 5xx, no answer). Default: `limits.postMaxAttempts`. */
  readonly maxAttempts?: number;
  /** Base of the jittered backoff between those attempts. Default: 100 ms, the SDK's standard retry base. */
  readonly retryBaseMs?: number;
  /**
   * A post attempt with no complete answer after this long fails, and is not made again (it may have been
   * delivered). A post's own `timeoutMs` shortens it. Default: {@link POST_TIMEOUT_MS}.
   */
  readonly timeoutMs?: number;
  /** Waits between attempts. Default: a real timer. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The SigV4 service name of the management API, as the SDK's auth scheme for it says. */
const SIGNING_SERVICE = "execute-api";

/** RFC 3986 escaping as the SDK does it for a path label and for SigV4: `encodeURIComponent` plus `!'()*`. */
const escapeUri = (value: string): string =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const sha256Hex = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");

/**
 * SHA-256 of each body, by identity: a broadcast posts the same bytes to every member, so the payload hash SigV4 needs
 * is computed once per broadcast instead of once per post.
 */
const payloadHashes = new WeakMap<Uint8Array, string>();
function payloadHash(data: Uint8Array): string {
  let hash = payloadHashes.get(data);
  if (hash === undefined) {
    hash = sha256Hex(data);
    payloadHashes.set(data, hash);
  }
  return hash;
}

/** What a refused post answered, as a failed outcome in the SDK's error shape (a 410 is never one: it is gone). */
function refused(response: IncomingMessage, status: number, text: string): PostOutcome {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: no type or message in it
  }
  // A JSON answer's message, else the raw text.
  const message =
    body !== undefined && body !== null ? String((body as { message?: unknown }).message ?? "") : text.slice(0, 200);
  const requestId = response.headers["x-amzn-requestid"];
  const id = typeof requestId === "string" ? requestId : undefined;
  const type = awsErrorType(response.headers, body);
  return { status: "failed", error: new PostToConnectionError(type, status, message, id) };
}

/** The least time worth another attempt of a post given a `timeoutMs`; with less, the post returns its failure. */
const MIN_ATTEMPT_MS = 1_000;

/**
 * How long a post may wait for API Gateway's answer: a little under the routes' 29-second limit. A post that times
 * out may still have been delivered, so it is never made again; a short limit would turn a slow moment into losses.
 */
export const POST_TIMEOUT_MS = 25_000;

/**
 * A lean {@link Poster}: `PostToConnection` as one SigV4-signed `http(s).request` over a keep-alive agent. It builds
 * the canonical request of its one fixed request shape itself and signs it with the signing key the SDK's SigV4
 * package derives (`getSigningKey`), kept while the day and the credentials stay the same, with credentials from the
 * given provider on every post. It needs no management API client, so a function that posts carries none in its
 * bundle. That skips the SDK's per-call machinery
 * (middleware stack, serde, a signer per request, request cloning), which costs several times the signature itself
 * (bench/README.md). Answers as the SDK poster does: 2xx delivered, 410 gone, anything else failed with an error whose
 * `$metadata.httpStatusCode` the broadcast reads; 429, 5xx and network errors are retried here up to `maxAttempts`,
 * as the SDK's standard retry would. A body must not change once posted (its payload hash is kept by identity).
 */
export function signedHttpPoster(options: SignedHttpPosterOptions): Poster {
  const { agent, region, credentials: credentialsOf } = options;
  const url = new URL(options.endpoint);
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const basePath = url.pathname.replace(/\/+$/, "");
  // SigV4 escapes each segment of the (already escaped) path once more, for every service but S3.
  const canonicalBase = `${basePath.split("/").map(escapeUri).join("/")}/${escapeUri("@connections")}/`;
  const port = url.port ? Number(url.port) : undefined;
  const maxAttempts = Math.max(1, options.maxAttempts ?? limits.postMaxAttempts);
  const retryBaseMs = options.retryBaseMs ?? 100;
  const timeoutMs = options.timeoutMs ?? POST_TIMEOUT_MS;
  const wait = options.sleep ?? sleep;

  // The last signing key, by what it is derived from. The SDK's own cache is keyed by an HMAC of the credentials,
  // which would cost one more HMAC per post; a day's posts with the same credentials all share one key.
  let lastKey: { of: string; key: Uint8Array } | undefined;
  const signingKey = async (credentials: AwsCredentials, shortDate: string): Promise<Uint8Array> => {
    const of = `${shortDate}\n${credentials.accessKeyId}\n${credentials.secretAccessKey}\n${credentials.sessionToken ?? ""}`;
    if (lastKey?.of !== of) {
      lastKey = { of, key: await getSigningKey(Sha256, credentials, shortDate, region, SIGNING_SERVICE) };
    }
    return lastKey.key;
  };

  /** The headers of one signed post: exactly what `SignatureV4.sign` adds for this request, in canonical order. */
  const signedHeaders = async (method: Method, label: string, data: Uint8Array): Promise<Record<string, string>> => {
    const credentials = await credentialsOf();
    // The machine's clock, as Lambda's is kept in sync (the SDK would correct a skew only after a refused request).
    const longDate = new Date()
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z")
      .replace(/[-:]/g, "");
    const shortDate = longDate.slice(0, 8);
    const scope = createScope(shortDate, region, SIGNING_SERVICE);
    const hash = payloadHash(data);
    const headers: Record<string, string> = {
      "content-length": String(data.byteLength),
      "content-type": "application/octet-stream",
      host: url.host,
      "x-amz-content-sha256": hash,
      "x-amz-date": longDate,
      ...(credentials.sessionToken ? { "x-amz-security-token": credentials.sessionToken } : {}),
    };
    const names = Object.keys(headers).sort();
    const canonical = `${method}\n${canonicalBase}${escapeUri(label)}\n\n${names.map((n) => `${n}:${headers[n]}\n`).join("")}\n${names.join(";")}\n${hash}`;
    const stringToSign = `AWS4-HMAC-SHA256\n${longDate}\n${scope}\n${sha256Hex(canonical)}`;
    const signature = createHmac("sha256", await signingKey(credentials, shortDate))
      .update(stringToSign)
      .digest("hex");
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`;
    return headers;
  };

  const once = async (method: Method, connectionId: string, data: Uint8Array, waitMs: number): Promise<PostOutcome> => {
    const label = escapeUri(connectionId);
    let headers: Record<string, string>;
    try {
      headers = await signedHeaders(method, label, data);
    } catch (error) {
      // Credentials not resolved (yet): a failure of this post, retried like a network error, never a crash.
      return { status: "failed", error };
    }
    return new Promise<PostOutcome>((settle) => {
      let timer: NodeJS.Timeout | undefined;
      const resolve = (outcome: PostOutcome) => {
        clearTimeout(timer);
        settle(outcome);
      };
      const path = `${basePath}/@connections/${label}`;
      let answered = false;
      const request = send({ agent, method, hostname: url.hostname, port, path, headers }, (response) => {
        answered = true;
        const status = response.statusCode ?? 0;
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => {
          if (status >= 300) chunks.push(chunk);
        });
        response.once("end", () => {
          if (status >= 200 && status < 300) resolve(DELIVERED);
          else if (status === 410) resolve(GONE);
          else resolve(refused(response, status, Buffer.concat(chunks).toString("utf8")));
        });
        response.once("error", (error) => resolve({ status: "failed", error }));
        response.once("close", () => {
          if (!response.complete) resolve({ status: "failed", error: new Error("PostToConnection: answer cut off") });
        });
      });
      // A hard limit on the whole exchange (not an idle timeout), so the post ends within the time it was given.
      timer = setTimeout(() => request.destroy(new PostTimeoutError(waitMs)), waitMs);
      request.once("error", (error: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed just as we reused it: the request never reached the server (the race
        // Node's documentation describes for `request.reusedSocket`), so the broadcast may post again.
        const notSent = request.reusedSocket && error.code === "ECONNRESET" && !answered;
        resolve({ status: "failed", error: notSent ? Object.assign(error, { notSent: true }) : error });
      });
      request.end(data);
    });
  };

  return {
    async post(connectionId, data, postOptions) {
      const until = postOptions?.timeoutMs === undefined ? undefined : Date.now() + postOptions.timeoutMs;
      for (let attempt = 1; ; attempt++) {
        const left = until === undefined ? timeoutMs : Math.max(1, Math.min(timeoutMs, until - Date.now()));
        const outcome = await once("POST", connectionId, data, left);
        if (outcome.status !== "failed" || attempt >= maxAttempts || !isRetryable(outcome.error)) return outcome;
        const pause = jitteredDelay(attempt, retryBaseMs);
        // Too little time for another attempt: the post surely did not arrive, and the caller may make it later.
        if (until !== undefined && until - Date.now() - pause < MIN_ATTEMPT_MS) return outcome;
        await wait(pause);
      }
    },
    async close(connectionId) {
      return once("DELETE", connectionId, NO_BODY, timeoutMs);
    },
    async probe(connectionId) {
      return once("GET", connectionId, NO_BODY, timeoutMs);
    },
  };
}

/** The methods of the management API the lean poster calls: PostToConnection, DeleteConnection, GetConnection. */
type Method = "POST" | "DELETE" | "GET";
const NO_BODY = new Uint8Array(0);
