import * as oauth from "oauth4webapi";
import type { LocalStack } from "../../local/local-stack.ts";

/** The tokens a sign-in at the local stack's development provider gives the page. */
export interface DevSignIn {
  readonly idToken: string;
  readonly refreshToken?: string;
  readonly server: oauth.AuthorizationServer;
  readonly client: oauth.Client;
}

const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** A cookie jar of one browser, enough for the provider's interaction and session cookies. */
class Cookies {
  readonly #jar = new Map<string, string>();
  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";", 1);
      const at = pair?.indexOf("=") ?? -1;
      if (pair && at > 0) this.#jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
  }
  get header(): string {
    return [...this.#jar].map(([name, value]) => `${name}=${value}`).join("; ");
  }
}

/**
 * Signs `username` in at the stack's development provider as the page does (authorization code with PKCE, the
 * page's client and redirect URI), filling in its form with plain HTTP requests, and returns the tokens.
 */
export async function signInAtDevProvider(stack: LocalStack, username: string): Promise<DevSignIn> {
  if (!stack.oidc) throw new Error("the stack runs in guest mode");
  const issuer = new URL(stack.oidc.issuer);
  const server = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  const client: oauth.Client = { client_id: stack.oidc.clientId };
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const redirectUri = `${stack.url}/`;
  const authorize = new URL(String(server.authorization_endpoint));
  authorize.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: redirectUri,
    response_type: "code",
    scope: "openid profile",
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  }).toString();

  const cookies = new Cookies();
  const go = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const response = await fetch(new URL(url, stack.url), {
      ...init,
      redirect: "manual",
      headers: { ...(init.headers as Record<string, string>), cookie: cookies.header },
    });
    cookies.take(response);
    return response;
  };
  let response = await go(authorize.href);
  const form = response.headers.get("location") ?? "";
  if (!/\/oidc\/interaction\//.test(form)) throw new Error(`no sign-in form: ${response.status} ${form}`);
  response = await go(form, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username }).toString(),
  });
  // The form's answer leads back through the provider's resume step to the page, with the code.
  let location = response.headers.get("location") ?? "";
  const atPage = (url: string) => new URL(url, stack.url).pathname === "/";
  for (let hops = 0; !location || !atPage(location); hops++) {
    if (!location || hops === 5) throw new Error(`the sign-in stopped at ${response.status}: ${await response.text()}`);
    response = await go(location);
    location = response.headers.get("location") ?? "";
  }
  const parameters = oauth.validateAuthResponse(server, client, new URL(location), state);
  const tokens = await oauth.processAuthorizationCodeResponse(
    server,
    client,
    await oauth.authorizationCodeGrantRequest(
      server,
      client,
      oauth.None(),
      parameters,
      redirectUri,
      verifier,
      insecure,
    ),
    { expectedNonce: nonce, requireIdToken: true },
  );
  return {
    idToken: String(tokens.id_token),
    ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}),
    server,
    client,
  };
}

/** A new ID token from the refresh token, as the page renews one. */
export async function refreshAtDevProvider(signIn: DevSignIn): Promise<string> {
  if (!signIn.refreshToken) throw new Error("no refresh token");
  const response = await oauth.refreshTokenGrantRequest(
    signIn.server,
    signIn.client,
    oauth.None(),
    signIn.refreshToken,
    insecure,
  );
  const tokens = await oauth.processRefreshTokenResponse(signIn.server, signIn.client, response);
  return String(tokens.id_token);
}
