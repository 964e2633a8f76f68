import { errors, jwtVerify, SignJWT } from "jose";
import { parseUsername } from "./names.ts";

/** The HS256 key, made once from the secret and reused for every sign and verify. */
export type TokenKey = Uint8Array;

/** Turns the configured secret into a signing key; refuses secrets too short for HS256 to mean anything. */
export function tokenKey(secret: string): TokenKey {
  const key = new TextEncoder().encode(secret);
  if (key.byteLength < 32) throw new RangeError("the token secret must be at least 32 bytes");
  return key;
}

/** A signed session token and when it stops being accepted. */
export interface SessionToken {
  token: string;
  username: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/** Signs a session token for an already validated username: HS256, `sub`, `iat`, `exp`. */
export async function signSessionToken(
  key: TokenKey,
  username: string,
  ttlSeconds: number,
  nowMs: number = Date.now(),
): Promise<SessionToken> {
  const iat = Math.floor(nowMs / 1000);
  const exp = iat + ttlSeconds;
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(username)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(key);
  return { token, username, expiresAt: exp * 1000 };
}

/** A token that does not verify: bad signature, wrong algorithm, expired, malformed, or naming no valid user. */
export class InvalidTokenError extends Error {
  override readonly name = "InvalidTokenError";
  constructor(reason: string, options?: ErrorOptions) {
    super(`invalid session token: ${reason}`, options);
  }
}

/**
 * Verifies a session token and returns its username. Only HS256 is accepted (no `none`, no algorithm confusion) and
 * `exp` is required.
 */
export async function verifySessionToken(key: TokenKey, token: string, nowMs: number = Date.now()): Promise<string> {
  let subject: string | undefined;
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ["HS256"],
      requiredClaims: ["sub", "iat", "exp"],
      currentDate: new Date(nowMs),
    });
    subject = payload.sub;
  } catch (error) {
    const reason =
      error instanceof errors.JWTExpired ? "expired" : error instanceof errors.JOSEError ? error.code : "malformed";
    throw new InvalidTokenError(reason, { cause: error });
  }
  const username = parseUsername(subject);
  if (!username.ok || username.value !== subject) throw new InvalidTokenError("subject is not a valid username");
  return username.value;
}
