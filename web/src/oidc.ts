import * as oauth from "oauth4webapi";
import * as v from "valibot";
import { SignInRequired } from "./session.ts";
import { isFresh } from "./session-expiry.ts";

/** The OpenID provider of `config.json`'s `auth` in OIDC mode (PROTOCOL §1). */
export interface OidcConfig {
  readonly issuer: string;
  readonly clientId: string;
  /** A logout URL taking `client_id` and `logout_uri` instead of RP-initiated logout (Cognito's `/logout`). */
  readonly logoutUrl?: string;
}

export { SignInRequired };

/** What this tab keeps of a sign-in: the ID token (what `POST /session` takes) and the refresh token, if any. */
const signedInSchema = v.object({
  idToken: v.string(),
  refreshToken: v.optional(v.string()),
  username: v.string(),
  receivedAt: v.number(),
  expiresLocal: v.number(),
});
type SignedIn = v.InferOutput<typeof signedInSchema>;

/** A sign-in on its way through the provider: what the callback must match. */
const pendingSchema = v.object({
  state: v.string(),
  nonce: v.string(),
  codeVerifier: v.string(),
  returnTo: v.string(),
});

const SIGNED_IN_KEY = "wschat.oidc";
const PENDING_KEY = "wschat.oidc.pending";

type Storage = Pick<globalThis.Storage, "getItem" | "setItem" | "removeItem">;

/** Dependencies of {@link OidcSignIn}; the defaults are the browser's. */
export interface OidcSignInDeps {
  /** Default: `sessionStorage`, as the chat's own token: one tab, gone when it closes, never a cookie. */
  readonly storage?: Storage;
  /** Where to send the browser (the provider's sign-in and sign-out). Default: `location.assign`. */
  readonly navigate?: (url: string) => void;
  readonly now?: () => number;
}

const read = <T>(storage: Storage, key: string, schema: v.GenericSchema<unknown, T>): T | undefined => {
  try {
    const parsed = v.safeParse(schema, JSON.parse(storage.getItem(key) ?? "null"));
    return parsed.success ? parsed.output : undefined;
  } catch {
    return undefined;
  }
};

/** The name the ID token carries, as the session endpoint reads it: `cognito:username`, else `preferred_username`. */
function claimedName(claims: oauth.IDToken | undefined): string | undefined {
  const name = claims?.["cognito:username"] ?? claims?.preferred_username;
  return typeof name === "string" ? name : undefined;
}

/**
 * Signing in with an OpenID provider by the authorization code flow with PKCE (oauth4webapi), as a public client:
 * `begin` sends the browser to the provider, `complete` takes the code back and trades it for tokens; `idToken`
 * gives a fresh ID token for `POST /session`, using the refresh token when the ID token is about to expire;
 * `signOut` forgets everything and ends the provider's session too when it has an end-session endpoint.
 */
export class OidcSignIn {
  readonly #config: OidcConfig;
  readonly #client: oauth.Client;
  readonly #storage: Storage;
  readonly #navigate: (url: string) => void;
  readonly #now: () => number;
  readonly #options: { [oauth.allowInsecureRequests]?: boolean };
  #server: Promise<oauth.AuthorizationServer> | undefined;
  #refreshing: Promise<string> | undefined;

  constructor(config: OidcConfig, deps: OidcSignInDeps = {}) {
    this.#config = config;
    this.#client = { client_id: config.clientId };
    this.#storage = deps.storage ?? sessionStorage;
    this.#navigate = deps.navigate ?? ((url) => location.assign(url));
    this.#now = deps.now ?? Date.now;
    // Only the local stack's development provider is served over plain HTTP, on a loopback address.
    const issuer = new URL(config.issuer);
    const loopback = /^(127\.0\.0\.1|localhost|\[::1\])$/.test(issuer.hostname);
    this.#options = issuer.protocol === "http:" && loopback ? { [oauth.allowInsecureRequests]: true } : {};
  }

  /** The name of the signed-in person, or undefined when nobody is signed in in this tab. */
  get username(): string | undefined {
    return read(this.#storage, SIGNED_IN_KEY, signedInSchema)?.username;
  }

  /** The provider's metadata, from its discovery document (read once). */
  #authorizationServer(): Promise<oauth.AuthorizationServer> {
    const issuer = new URL(this.#config.issuer);
    this.#server ??= oauth
      .discoveryRequest(issuer, { ...this.#options, algorithm: "oidc" })
      .then((response) => oauth.processDiscoveryResponse(issuer, response))
      .catch((error: unknown) => {
        this.#server = undefined;
        throw error;
      });
    return this.#server;
  }

  /** Sends the browser to the provider's sign-in; `returnTo` is where the page goes once back. */
  async begin(returnTo: string): Promise<void> {
    const server = await this.#authorizationServer();
    if (!server.authorization_endpoint) throw new Error("the provider has no authorization endpoint");
    const pending = {
      state: oauth.generateRandomState(),
      nonce: oauth.generateRandomNonce(),
      codeVerifier: oauth.generateRandomCodeVerifier(),
      returnTo,
    };
    this.#storage.setItem(PENDING_KEY, JSON.stringify(pending));
    const url = new URL(server.authorization_endpoint);
    url.search = new URLSearchParams({
      client_id: this.#config.clientId,
      redirect_uri: redirectUri(),
      response_type: "code",
      scope: "openid profile",
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await oauth.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: "S256",
    }).toString();
    this.#navigate(url.href);
  }

  /**
   * Finishes a sign-in when `url` is the provider's redirect back (it has `state`): checks it against the sign-in
   * this tab began, trades the code for tokens and keeps them. Returns where the page should be now (without the
   * code), or undefined when `url` is no redirect back. A refusal or a mismatch throws {@link SignInRequired}.
   */
  async complete(url: URL): Promise<string | undefined> {
    if (!url.searchParams.has("state")) return undefined;
    const pending = read(this.#storage, PENDING_KEY, pendingSchema);
    this.#storage.removeItem(PENDING_KEY);
    if (!pending) throw new SignInRequired("the sign-in was not begun in this tab; sign in again");
    const server = await this.#authorizationServer();
    try {
      const parameters = oauth.validateAuthResponse(server, this.#client, url, pending.state);
      const response = await oauth.authorizationCodeGrantRequest(
        server,
        this.#client,
        oauth.None(),
        parameters,
        redirectUri(),
        pending.codeVerifier,
        this.#options,
      );
      const result = await oauth.processAuthorizationCodeResponse(server, this.#client, response, {
        expectedNonce: pending.nonce,
        requireIdToken: true,
      });
      this.#keep(result);
    } catch (error) {
      throw asSignInRequired(error);
    }
    return pending.returnTo;
  }

  /** A fresh ID token for `POST /session`: the kept one while fresh, else (or when `renew`) one got by refreshing. */
  async idToken(renew = false): Promise<string> {
    const kept = read(this.#storage, SIGNED_IN_KEY, signedInSchema);
    if (!kept) throw new SignInRequired("not signed in");
    if (!renew && isFresh(kept.expiresLocal, kept.receivedAt, this.#now())) return kept.idToken;
    const refreshToken = kept.refreshToken;
    if (!refreshToken) {
      this.forget();
      throw new SignInRequired("the sign-in has expired; sign in again");
    }
    this.#refreshing ??= this.#refresh(refreshToken).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh(refreshToken: string): Promise<string> {
    const server = await this.#authorizationServer();
    let result: oauth.TokenEndpointResponse;
    try {
      const response = await oauth.refreshTokenGrantRequest(
        server,
        this.#client,
        oauth.None(),
        refreshToken,
        this.#options,
      );
      result = await oauth.processRefreshTokenResponse(server, this.#client, response);
    } catch (error) {
      const refused = asSignInRequired(error);
      if (refused instanceof SignInRequired) this.forget();
      throw refused;
    }
    return this.#keep(result, refreshToken);
  }

  #keep(result: oauth.TokenEndpointResponse, previousRefreshToken?: string): string {
    const claims = oauth.getValidatedIdTokenClaims(result);
    const idToken = result.id_token;
    const username = claimedName(claims);
    if (!idToken || !claims || username === undefined) throw new SignInRequired("the provider sent no usable ID token");
    const receivedAt = this.#now();
    const signedIn: SignedIn = {
      idToken,
      refreshToken: result.refresh_token ?? previousRefreshToken,
      username,
      receivedAt,
      // Counted on this browser's clock from the token's own lifetime, as the chat token's expiry is.
      expiresLocal: receivedAt + Math.max(0, claims.exp - claims.iat) * 1000,
    };
    this.#storage.setItem(SIGNED_IN_KEY, JSON.stringify(signedIn));
    return idToken;
  }

  /** Forgets this tab's sign-in (tokens and any sign-in under way). */
  forget(): void {
    this.#storage.removeItem(SIGNED_IN_KEY);
    this.#storage.removeItem(PENDING_KEY);
  }

  /**
   * Signs out: forgets the tokens and, when the provider offers one, ends its session too (RP-initiated logout, or
   * the configured logout URL), coming back to the page. Returns whether the browser is being sent away.
   */
  async signOut(): Promise<boolean> {
    const kept = read(this.#storage, SIGNED_IN_KEY, signedInSchema);
    const idToken = kept?.idToken;
    this.forget();
    const server = await this.#authorizationServer().catch(() => undefined);
    if (server?.revocation_endpoint && kept?.refreshToken) {
      // A refresh token outlives the provider's session (Cognito's: 30 days): revoke it, best effort.
      await oauth
        .revocationRequest(server, this.#client, oauth.None(), kept.refreshToken, this.#options)
        .catch(() => undefined);
    }
    // Cognito names its /logout as end_session_endpoint, but it takes client_id and logout_uri, not RP-initiated
    // logout's parameters: config.json's logoutUrl says to use that form (AWS doc "Logout endpoint").
    if (this.#config.logoutUrl) {
      const url = new URL(this.#config.logoutUrl);
      url.searchParams.set("client_id", this.#config.clientId);
      url.searchParams.set("logout_uri", redirectUri());
      this.#navigate(url.href);
      return true;
    }
    if (server?.end_session_endpoint) {
      const url = new URL(server.end_session_endpoint);
      url.searchParams.set("client_id", this.#config.clientId);
      url.searchParams.set("post_logout_redirect_uri", redirectUri());
      if (idToken) url.searchParams.set("id_token_hint", idToken);
      this.#navigate(url.href);
      return true;
    }
    return false;
  }
}

/** The page's redirect URI: its root, registered with the provider (CDK and the local provider both use it). */
export const redirectUri = (): string => `${location.origin}/`;

/** A refusal by the provider (bad grant, bad state, error redirect) means signing in again; anything else is passing. */
function asSignInRequired(error: unknown): Error {
  if (error instanceof SignInRequired) return error;
  if (error instanceof oauth.AuthorizationResponseError || error instanceof oauth.ResponseBodyError) {
    return new SignInRequired(`the provider refused the sign-in: ${error.error}`, { cause: error });
  }
  if (error instanceof oauth.OperationProcessingError) {
    return new SignInRequired(`the sign-in could not be checked: ${error.message}`, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}
