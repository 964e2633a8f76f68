import { limits } from "../core/limits.ts";
import type { CoreLogger } from "../core/logger.ts";
import { parseUsername } from "../core/names.ts";
import { IssuerUnavailableError } from "../core/oidc-discovery.ts";
import { IdTokenRefusedError, type IdTokenVerifier, UsernameNotAllowedError } from "../core/oidc-verifier.ts";
import type { RateDecision, SessionRate } from "../core/session-rate.ts";
import { signSessionToken, type TokenKey } from "../core/session-token.ts";
import { asUnavailable, type TokenKeySource, unavailableFields } from "../core/token-secret.ts";

/** The part of an HTTP API (payload 2.0) event that `POST /session` reads. */
export interface SessionRequest {
  body?: string | null;
  isBase64Encoded?: boolean;
  /** Lower-case names, as HTTP APIs deliver them. */
  headers?: Record<string, string | undefined>;
  requestContext?: { requestId?: string; http?: { sourceIp?: string } };
}

/** An HTTP API answer. */
export interface SessionResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** How people sign in (PROTOCOL §1–2): guests name themselves, or an OpenID provider's ID token names them. */
export type SessionAuth = { readonly mode: "guest" } | { readonly mode: "oidc"; readonly verify: IdTokenVerifier };

/** Dependencies of the session endpoint. */
export interface SessionDeps {
  /** The signing key, or a function giving it on first use. */
  readonly key: TokenKeySource;
  /** Token lifetime. Default: `limits.tokenTtlSeconds` (1 hour). */
  readonly ttlSeconds?: number;
  /** Default: guest mode. */
  readonly auth?: SessionAuth;
  /** New sessions per source IP; default: no limit (the local stack unless `CHAT_SESSION_RATE` is set). */
  readonly rate?: SessionRate;
  readonly logger: CoreLogger;
  readonly now?: () => number;
}

const HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

const answer = (statusCode: number, body: object, headers: Record<string, string> = {}): SessionResponse => ({
  statusCode,
  headers: { ...HEADERS, ...headers },
  body: JSON.stringify(body),
});

/** The body's bytes, or 413 when over the limit. */
function readBody(request: SessionRequest): Buffer | SessionResponse {
  const raw = request.body ?? "";
  const bytes = request.isBase64Encoded ? Buffer.from(raw, "base64") : Buffer.from(raw, "utf8");
  if (bytes.byteLength > limits.sessionBodyMaxBytes) {
    return answer(413, { error: `request body must be at most ${limits.sessionBodyMaxBytes} bytes` });
  }
  return bytes;
}

/** Reads the body as `{ username }`; an error answer for anything else. */
function readUsername(bytes: Buffer): { username: unknown } | SessionResponse {
  if (bytes.byteLength === 0) return answer(400, { error: 'request body must be JSON: {"username":"…"}' });
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString("utf8"));
  } catch {
    return answer(400, { error: 'request body must be JSON: {"username":"…"}' });
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return answer(400, { error: 'request body must be a JSON object: {"username":"…"}' });
  }
  if (!Object.hasOwn(body, "username")) return answer(400, { error: "username is required" });
  return { username: (body as { username: unknown }).username };
}

const UNAUTHORIZED = { "www-authenticate": 'Bearer realm="chat"' };

/** The bearer token of the `Authorization` header, if there is one. */
function bearer(request: SessionRequest): string | undefined {
  const value = request.headers?.authorization ?? request.headers?.Authorization;
  const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(value ?? "");
  return match?.[1];
}

/** What the client is told when no token can be signed; the log says why. */
export const KEY_UNAVAILABLE_ERROR = "sessions cannot be issued right now; try again later";

/** What the client is told when the issuer's keys cannot be had; the log says why. */
export const ISSUER_UNAVAILABLE_ERROR = "sign-ins cannot be checked right now; try again later";

/**
 * `POST /session`. Guest mode: a valid username gets a signed session token; bad input gets 400 (or 413), never
 * 500. OIDC mode: an ID token of the configured issuer and client (`Authorization: Bearer …`) gets a token for the
 * name it carries; anything else, guest bodies included, gets 401; a name the username rule refuses, 403; the
 * issuer out of reach, 503. Over the rate of new sessions per source IP: 429 with `Retry-After`. Only a server
 * fault answers 500: no signing key to be had (logged, and tried again on the next request).
 */
export function createSessionHandler(deps: SessionDeps) {
  const auth = deps.auth ?? { mode: "guest" };
  const now = deps.now ?? Date.now;
  const requestIdOf = (request: SessionRequest) => request.requestContext?.requestId;

  /** The username this request proves or claims, or the answer that refuses it. */
  async function identify(request: SessionRequest, bytes: Buffer): Promise<string | SessionResponse> {
    if (auth.mode === "guest") {
      const read = readUsername(bytes);
      if ("statusCode" in read) return read;
      const username = parseUsername(read.username);
      return username.ok ? username.value : answer(400, { error: username.error });
    }
    const idToken = bearer(request);
    if (idToken === undefined) {
      return answer(
        401,
        { error: "sign in first: POST /session needs Authorization: Bearer <ID token>" },
        UNAUTHORIZED,
      );
    }
    try {
      return await auth.verify(idToken);
    } catch (error) {
      if (error instanceof IdTokenRefusedError) {
        deps.logger.info("ID token refused", { reason: error.reason, requestId: requestIdOf(request) });
        return answer(401, { error: "the ID token was not accepted; sign in again" }, UNAUTHORIZED);
      }
      if (error instanceof UsernameNotAllowedError) return answer(403, { error: error.message });
      deps.logger.error("issuer unavailable: answering 503", {
        error: error instanceof IssuerUnavailableError ? error.message : String(error),
        requestId: requestIdOf(request),
      });
      return answer(503, { error: ISSUER_UNAVAILABLE_ERROR }, { "retry-after": "5" });
    }
  }

  return async (request: SessionRequest): Promise<SessionResponse> => {
    const bytes = readBody(request);
    if (!Buffer.isBuffer(bytes)) return bytes;
    const username = await identify(request, bytes);
    if (typeof username !== "string") return username;
    if (deps.rate) {
      const sourceIp = request.requestContext?.http?.sourceIp ?? "unknown";
      let taken: RateDecision;
      try {
        taken = await deps.rate(sourceIp);
      } catch (error) {
        deps.logger.error("session rate unavailable: answering 503", { error, requestId: requestIdOf(request) });
        return answer(503, { error: KEY_UNAVAILABLE_ERROR }, { "retry-after": "5" });
      }
      if (!taken.allowed) {
        const seconds = Math.max(1, Math.ceil(taken.retryAfterMs / 1000));
        deps.logger.info("session refused: rate", { sourceIp, requestId: requestIdOf(request) });
        return answer(
          429,
          { error: `too many new sessions from this address; try again in ${seconds} s` },
          { "retry-after": String(seconds) },
        );
      }
    }
    let key: TokenKey;
    try {
      key = typeof deps.key === "function" ? await deps.key() : deps.key;
    } catch (error) {
      const fields = unavailableFields(asUnavailable(error));
      deps.logger.error("token key unavailable: answering 500", { ...fields, requestId: requestIdOf(request) });
      return answer(500, { error: KEY_UNAVAILABLE_ERROR });
    }
    const session = await signSessionToken(key, username, deps.ttlSeconds ?? limits.tokenTtlSeconds, now());
    deps.logger.info("session issued", { username: session.username, requestId: requestIdOf(request) });
    return answer(200, session);
  };
}
