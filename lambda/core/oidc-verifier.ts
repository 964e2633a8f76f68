import { createRemoteJWKSet, customFetch, errors, type JWTPayload, jwtVerify } from "jose";
import { parseUsername } from "./names.ts";
import { checkIssuer, discoverIssuer, type FetchLike, IssuerUnavailableError } from "./oidc-discovery.ts";

/** The issuer and client whose ID tokens `POST /session` accepts in OIDC mode. */
export interface OidcSettings {
  /** The `iss` of its ID tokens, e.g. `https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC`. */
  readonly issuer: string;
  /** The page's client id: the ID token's `aud`. */
  readonly clientId: string;
}

/** Options of {@link createIdTokenVerifier}. */
export interface IdTokenVerifierOptions {
  /** Default: the global `fetch`. */
  readonly fetch?: FetchLike;
  /** Default: `Date.now`. */
  readonly now?: () => number;
}

/** Signature algorithms accepted: asymmetric only, so no client secret or `none` can stand in for the issuer's key. */
export const ID_TOKEN_ALGORITHMS = ["RS256", "ES256"] as const;

/** Clock skew tolerated on `exp`, `iat` and `nbf`. */
const CLOCK_TOLERANCE_SECONDS = 30;

/** An ID token that does not prove who the caller is (answered 401). */
export class IdTokenRefusedError extends Error {
  override readonly name = "IdTokenRefusedError";
  constructor(
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`ID token refused: ${reason}`, options);
  }
}

/** A proven identity whose name the username rule refuses (answered 403: signing in again cannot help). */
export class UsernameNotAllowedError extends Error {
  override readonly name = "UsernameNotAllowedError";
}

/** jose's codes for a token that is bad in itself; any other failure is the issuer being out of reach. */
const TOKEN_FAULTS = new Set([
  "ERR_JWT_EXPIRED",
  "ERR_JWT_CLAIM_VALIDATION_FAILED",
  "ERR_JWT_INVALID",
  "ERR_JWS_INVALID",
  "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
  "ERR_JOSE_ALG_NOT_ALLOWED",
  "ERR_JOSE_NOT_SUPPORTED",
  "ERR_JWKS_NO_MATCHING_KEY",
  "ERR_JWKS_MULTIPLE_MATCHING_KEYS",
]);

/** The username an ID token names: Cognito's `cognito:username`, else the standard `preferred_username`. */
function claimedName(payload: JWTPayload): unknown {
  return payload["cognito:username"] ?? payload.preferred_username;
}

/**
 * A function that verifies an ID token and returns the username it names, checked by the username rule. The
 * signature is checked against the issuer's JWKS (found through its discovery document on first use, kept, and
 * fetched again when a token names a key it lacks), with `iss`, `aud` = the client id, `exp` and `iat` required.
 * Throws {@link IdTokenRefusedError}, {@link UsernameNotAllowedError} or {@link IssuerUnavailableError}.
 */
export function createIdTokenVerifier(settings: OidcSettings, options: IdTokenVerifierOptions = {}) {
  const issuer = checkIssuer(settings.issuer);
  if (!settings.clientId) throw new TypeError("the OIDC client id must not be empty");
  const fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
  const now = options.now ?? Date.now;
  let keys: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  const keySet = () => {
    keys ??= discoverIssuer(issuer, fetchFn).then(
      ({ jwksUri }) =>
        createRemoteJWKSet(new URL(jwksUri), {
          [customFetch]: (url: string, init: RequestInit) => fetchFn(url, init),
        }),
      (error: unknown) => {
        keys = undefined; // tried again on the next request
        throw error;
      },
    );
    return keys;
  };

  return async (idToken: string): Promise<string> => {
    const jwks = await keySet();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, jwks, {
        issuer,
        audience: settings.clientId,
        algorithms: [...ID_TOKEN_ALGORITHMS],
        requiredClaims: ["iss", "aud", "exp", "iat", "sub"],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        // Also refuses an `iat` in the future. Cognito lets ID tokens live at most a day.
        maxTokenAge: 86_400,
        currentDate: new Date(now()),
      }));
    } catch (error) {
      if (error instanceof errors.JOSEError && TOKEN_FAULTS.has(error.code)) {
        const reason =
          error instanceof errors.JWTExpired
            ? "expired"
            : error instanceof errors.JWTClaimValidationFailed
              ? `${error.claim} ${error.reason}`
              : error.code;
        throw new IdTokenRefusedError(reason, { cause: error });
      }
      throw new IssuerUnavailableError(`the issuer's keys could not be had: ${String(error)}`, { cause: error });
    }
    // Cognito's access tokens are signed by the same keys; only its ID tokens say `token_use: id`.
    if (payload.token_use !== undefined && payload.token_use !== "id") {
      throw new IdTokenRefusedError("not an ID token (token_use)");
    }
    // With several audiences the token must be meant for this client (OpenID Connect Core §3.1.3.7).
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== settings.clientId) {
      throw new IdTokenRefusedError("azp is not this client");
    }
    const claimed = claimedName(payload);
    if (claimed === undefined) throw new IdTokenRefusedError("no cognito:username or preferred_username claim");
    const username = parseUsername(claimed);
    if (!username.ok) throw new UsernameNotAllowedError(`the name from the sign-in is not allowed: ${username.error}`);
    return username.value;
  };
}

/** A function from ID token to username, as {@link createIdTokenVerifier} makes. */
export type IdTokenVerifier = ReturnType<typeof createIdTokenVerifier>;

export { IssuerUnavailableError };
