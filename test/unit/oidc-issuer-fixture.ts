import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import type { FetchLike } from "../../lambda/core/oidc-discovery.ts";

/** The fake issuer's identifiers; the clock of the tests is `NOW` from the fixtures. */
export const ISSUER = "https://issuer.example.com/pool";
export const CLIENT_ID = "chat-page";

/** A key pair with a `kid`, its public half published by {@link FakeIssuer}. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: "RS256" | "ES256";
  readonly privateKey: CryptoKey;
  readonly publicJwk: Record<string, unknown>;
}

export async function signingKey(kid: string, alg: "RS256" | "ES256" = "RS256"): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

/**
 * An OpenID provider's two documents (discovery and JWKS) served through an injected `fetch`, counting requests;
 * `down` makes every request fail as a network error would.
 */
export class FakeIssuer {
  readonly requests: string[] = [];
  down = false;
  discoveryIssuer = ISSUER;
  constructor(public keys: SigningKey[]) {}

  readonly fetch: FetchLike = async (url) => {
    this.requests.push(url);
    if (this.down) throw new TypeError("fetch failed");
    if (url === `${ISSUER}/.well-known/openid-configuration`) {
      return Response.json({ issuer: this.discoveryIssuer, jwks_uri: `${ISSUER}/.well-known/jwks.json` });
    }
    if (url === `${ISSUER}/.well-known/jwks.json`) return Response.json({ keys: this.keys.map((k) => k.publicJwk) });
    return new Response("not found", { status: 404 });
  };
}

/** An ID token as Cognito makes them, signed by `key`; `claims` override or add (undefined removes). */
export async function idToken(
  key: SigningKey,
  nowMs: number,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  const payload: JWTPayload = {
    iss: ISSUER,
    aud: CLIENT_ID,
    sub: "5f0c-uuid",
    iat,
    exp: iat + 3600,
    token_use: "id",
    "cognito:username": "Lucy",
    ...claims,
  };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete payload[name];
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
}
