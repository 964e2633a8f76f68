/** Refresh a token this long before it expires, at most (a quarter of its lifetime for short-lived test tokens). */
const REFRESH_MARGIN_MS = 60_000;

/** A token is never refreshed sooner than this after it was fetched, so a clock mix-up cannot spin a loop. */
const MIN_REFRESH_DELAY_MS = 1_000;

function base64UrlJson(segment: string): unknown {
  try {
    const base64 = segment.replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "=")));
  } catch {
    return undefined;
  }
}

/** The token's lifetime in milliseconds from its `iat` and `exp` claims (PROTOCOL "Names and limits"), if readable. */
export function tokenLifetimeMs(token: string): number | undefined {
  const claims = base64UrlJson(token.split(".")[1] ?? "");
  if (claims === null || typeof claims !== "object") return undefined;
  const { iat, exp } = claims as { iat?: unknown; exp?: unknown };
  return typeof iat === "number" && typeof exp === "number" && exp > iat ? (exp - iat) * 1_000 : undefined;
}

/**
 * When the token expires by this browser's clock. The server's `expiresAt` is read on the server's clock; a laptop
 * whose clock is off would think every token stale, so the lifetime (`exp − iat`) is counted from the moment the
 * token arrived. Without readable claims, `expiresAt` is taken as it is.
 */
export function localExpiry(token: string, expiresAt: number, receivedAt: number): number {
  const lifetime = tokenLifetimeMs(token);
  return lifetime === undefined ? expiresAt : receivedAt + lifetime;
}

/** How long before `expiresLocal` a token counts as due for renewal. */
export const refreshMargin = (lifetimeMs: number): number => Math.min(REFRESH_MARGIN_MS, lifetimeMs / 4);

/** Whether a token fetched at `receivedAt` is still good for a new connection at `now`. */
export const isFresh = (expiresLocal: number, receivedAt: number, now: number): boolean =>
  expiresLocal - now > refreshMargin(expiresLocal - receivedAt);

/** Milliseconds from `now` until the token should be renewed. */
export const refreshDelay = (expiresLocal: number, receivedAt: number, now: number): number =>
  Math.max(MIN_REFRESH_DELAY_MS, expiresLocal - refreshMargin(expiresLocal - receivedAt) - now);
