import { limits } from "../core/limits.ts";
import type { CoreLogger } from "../core/logger.ts";
import { parseUsername } from "../core/names.ts";
import { signSessionToken, type TokenKey } from "../core/session-token.ts";
import { asUnavailable, type TokenKeySource, unavailableFields } from "../core/token-secret.ts";

/** The part of an HTTP API (payload 2.0) event that `POST /session` reads. */
export interface SessionRequest {
  body?: string | null;
  isBase64Encoded?: boolean;
  requestContext?: { requestId?: string };
}

/** An HTTP API answer. */
export interface SessionResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** Dependencies of the session endpoint. */
export interface SessionDeps {
  /** The signing key, or a function giving it on first use. */
  readonly key: TokenKeySource;
  /** Token lifetime. Default: `limits.tokenTtlSeconds` (1 hour). */
  readonly ttlSeconds?: number;
  readonly logger: CoreLogger;
  readonly now?: () => number;
}

const HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

const answer = (statusCode: number, body: object): SessionResponse => ({
  statusCode,
  headers: HEADERS,
  body: JSON.stringify(body),
});

/** Reads the body as `{ username }`; an error answer for anything else. */
function readUsername(request: SessionRequest): { username: unknown } | SessionResponse {
  const raw = request.body ?? "";
  const bytes = request.isBase64Encoded ? Buffer.from(raw, "base64") : Buffer.from(raw, "utf8");
  if (bytes.byteLength > limits.sessionBodyMaxBytes) {
    return answer(413, { error: `request body must be at most ${limits.sessionBodyMaxBytes} bytes` });
  }
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

/** What the client is told when no token can be signed; the log says why. */
export const KEY_UNAVAILABLE_ERROR = "sessions cannot be issued right now; try again later";

/**
 * `POST /session`: a valid username gets a signed session token; bad input gets 400 (or 413), never 500. Only a
 * server fault answers 500: no signing key to be had (logged, and tried again on the next request).
 */
export function createSessionHandler(deps: SessionDeps) {
  return async (request: SessionRequest): Promise<SessionResponse> => {
    const read = readUsername(request);
    if ("statusCode" in read) return read;
    const username = parseUsername(read.username);
    if (!username.ok) return answer(400, { error: username.error });
    let key: TokenKey;
    try {
      key = typeof deps.key === "function" ? await deps.key() : deps.key;
    } catch (error) {
      const fields = unavailableFields(asUnavailable(error));
      deps.logger.error("token key unavailable: answering 500", {
        ...fields,
        requestId: request.requestContext?.requestId,
      });
      return answer(500, { error: KEY_UNAVAILABLE_ERROR });
    }
    const session = await signSessionToken(
      key,
      username.value,
      deps.ttlSeconds ?? limits.tokenTtlSeconds,
      (deps.now ?? Date.now)(),
    );
    deps.logger.info("session issued", { username: session.username, requestId: request.requestContext?.requestId });
    return answer(200, session);
  };
}
