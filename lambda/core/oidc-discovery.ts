/** A `fetch` the OIDC modules use; the global one unless a test or the local stack hands in another. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** The issuer's keys or discovery document cannot be had now: the server's problem, not the token's (answered 503). */
export class IssuerUnavailableError extends Error {
  override readonly name = "IssuerUnavailableError";
}

/** What the session endpoint needs of an issuer's discovery document. */
export interface IssuerMetadata {
  readonly issuer: string;
  readonly jwksUri: string;
}

/** Loopback hosts may be served over plain HTTP (the local stack's provider); every other issuer needs HTTPS. */
function secureEnough(url: URL): boolean {
  return (
    url.protocol === "https:" || (url.protocol === "http:" && /^(127\.0\.0\.1|localhost|\[::1\])$/.test(url.hostname))
  );
}

/** Checks an issuer identifier: an http(s) URL without query or fragment (OpenID Connect Discovery §2). */
export function checkIssuer(issuer: string): string {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new TypeError(`the OIDC issuer must be an https URL, got "${issuer}"`);
  }
  if (!secureEnough(url) || url.search || url.hash) {
    throw new TypeError(`the OIDC issuer must be an https URL without query or fragment, got "${issuer}"`);
  }
  return issuer;
}

/**
 * Reads the issuer's discovery document (`{issuer}/.well-known/openid-configuration`, OpenID Connect Discovery §4)
 * and returns its `jwks_uri`. The document must name the same issuer, exactly (§4.3); Cognito's is at
 * `https://cognito-idp.{region}.amazonaws.com/{poolId}/.well-known/openid-configuration` and names
 * `{issuer}/.well-known/jwks.json`.
 */
export async function discoverIssuer(issuer: string, fetchFn: FetchLike = fetch): Promise<IssuerMetadata> {
  const url = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  let response: Response;
  try {
    response = await fetchFn(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(5_000) });
  } catch (cause) {
    throw new IssuerUnavailableError(`the issuer's discovery document could not be fetched: ${String(cause)}`, {
      cause,
    });
  }
  if (response.status !== 200) {
    throw new IssuerUnavailableError(`the issuer's discovery document answered ${response.status}`);
  }
  const document: unknown = await response.json().catch(() => undefined);
  const { issuer: named, jwks_uri: jwksUri } = (document ?? {}) as { issuer?: unknown; jwks_uri?: unknown };
  if (named !== issuer) {
    throw new IssuerUnavailableError(`the discovery document names the issuer ${JSON.stringify(named)}, not ${issuer}`);
  }
  if (typeof jwksUri !== "string" || !URL.canParse(jwksUri) || !secureEnough(new URL(jwksUri))) {
    throw new IssuerUnavailableError("the discovery document has no usable jwks_uri");
  }
  return { issuer, jwksUri };
}
