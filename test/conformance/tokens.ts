import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";

/**
 * Tokens a deployment must refuse, made without its secret. An expired token that is validly signed cannot be made
 * from outside: the suite sends an expired one signed with a random key (refused either way), and the local suite,
 * which knows its secret, signs a real expired one through `ScenarioContext.signToken`.
 */
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

const claims = (username: string, nowSeconds: number, lifetime: number) => ({
  sub: username,
  iat: nowSeconds,
  exp: nowSeconds + lifetime,
});

/** A well-formed HS256 token for `username`, signed with a random key. */
export function randomKeyToken(username: string, expiresInSeconds = 3_600, nowMs = Date.now()): Promise<string> {
  const now = Math.floor(nowMs / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(username)
    .setIssuedAt(now)
    .setExpirationTime(now + expiresInSeconds)
    .sign(randomBytes(32));
}

/** An expired token (issued two hours ago, expired one hour ago), signed with a random key. */
export const expiredRandomKeyToken = (username: string, nowMs = Date.now()): Promise<string> =>
  randomKeyToken(username, 3_600, nowMs - 2 * 3_600_000);

/** An unsigned token (`alg: none`) with valid claims: the classic algorithm-confusion attack. */
export function algNoneToken(username: string, nowMs = Date.now()): string {
  const header = base64url({ alg: "none", typ: "JWT" });
  return `${header}.${base64url(claims(username, Math.floor(nowMs / 1000), 3_600))}.`;
}

/** A real token with another user's name put in its payload, its signature kept: the signature no longer matches. */
export function tamperedToken(token: string, otherUsername: string): string {
  const [header = "", payload = "", signature = ""] = token.split(".");
  const decoded = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
  return `${header}.${base64url({ ...decoded, sub: otherUsername })}.${signature}`;
}

/** A forged OpenID Connect ID token (RS256 header, garbage signature) for the OIDC session check. */
export function forgedIdToken(username: string, nowMs = Date.now()): string {
  const now = Math.floor(nowMs / 1000);
  const payload = { ...claims(username, now, 3_600), preferred_username: username, iss: "https://conformance.invalid" };
  return `${base64url({ alg: "RS256", typ: "JWT", kid: "conformance" })}.${base64url(payload)}.${randomBytes(256).toString("base64url")}`;
}
