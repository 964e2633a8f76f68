import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { exportJWK, generateKeyPair } from "jose";
import type { Configuration, KoaContextWithOIDC } from "oidc-provider";
import { parseUsername } from "../lambda/core/names.ts";
import { readBody } from "./read-body.ts";

/** Where the development provider lives on the local stack's port: its issuer is `{url}/oidc`. */
export const OIDC_PATH = "/oidc";

/** The page's client id at the development provider. */
export const DEV_OIDC_CLIENT_ID = "chat-local";

/** Options of {@link createDevOidcProvider}. */
export interface DevOidcProviderOptions {
  /** The local stack's origin, e.g. `http://127.0.0.1:3000`. */
  readonly origin: string;
  /** ID token lifetime in seconds. Default: 1 hour, as Cognito's. */
  readonly idTokenTtlSeconds?: number;
}

/** The development OpenID provider of the local stack. */
export interface DevOidcProvider {
  /** `{origin}/oidc`. */
  readonly issuer: string;
  readonly clientId: string;
  /** Whether `path` is the provider's (under `/oidc`). */
  owns(path: string): boolean;
  /** Answers a request under `/oidc`: the sign-in form, or the provider's own endpoints. */
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
}

const INTERACTION = /^\/oidc\/interaction\/([A-Za-z0-9_-]+)$/;

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/** The provider's own pages: plain, no script, nothing fetched from elsewhere. */
function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}
.dev{background:#fff3cd;border:1px solid #e0c36c;padding:.5rem .75rem;border-radius:4px}
label{display:block;margin-top:1rem}input{font:inherit;padding:.4rem;width:100%;box-sizing:border-box}
button{font:inherit;margin-top:1rem;padding:.4rem 1rem}.error{color:#a4000f}</style></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
};

const DEV_NOTICE =
  '<p class="dev" role="note"><strong>Development only.</strong> This is the local stack\'s test OpenID provider: ' +
  "anyone can sign in under any name, with no password. Deployed chats sign in with Cognito or your own provider.</p>";

function signInForm(uid: string, username = "", error?: string): string {
  return page(
    "Sign in to the chat",
    `${DEV_NOTICE}<form method="post" action="${OIDC_PATH}/interaction/${escapeHtml(uid)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" autofocus required value="${escapeHtml(username)}"${
      error ? ' aria-invalid="true" aria-describedby="username-error"' : ""
    }>
${error ? `<p class="error" id="username-error" role="alert">${escapeHtml(error)}</p>` : ""}
<button type="submit">Sign in</button></form>`,
  );
}

/**
 * A real OpenID provider (`oidc-provider`, a certified implementation) for the local stack, development only: the
 * authorization code flow with PKCE for one public client (the page, redirect URI `{origin}/`), refresh tokens,
 * RP-initiated logout, and a sign-in form that takes a username and no password. ID tokens carry the name as
 * `preferred_username`. Its signing key is made at start, so tokens do not outlive the process.
 */
export async function createDevOidcProvider(options: DevOidcProviderOptions): Promise<DevOidcProvider> {
  const issuer = `${options.origin}${OIDC_PATH}`;
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: "dev-1", alg: "RS256", use: "sig" };
  const configuration: Configuration = {
    clients: [
      {
        client_id: DEV_OIDC_CLIENT_ID,
        client_name: "Channel chat (local)",
        token_endpoint_auth_method: "none",
        application_type: "web",
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        redirect_uris: [`${options.origin}/`],
        post_logout_redirect_uris: [`${options.origin}/`],
      },
    ],
    jwks: { keys: [signingKey] },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub, preferred_username: sub }) }),
    claims: { openid: ["sub"], profile: ["preferred_username"] },
    scopes: ["openid", "profile", "offline_access"],
    // The name goes into the ID token itself (as Cognito does), not only into the userinfo answer.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    // The page is a public client: refresh tokens without offline_access, as Cognito's managed login issues them.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    // The page calls the token endpoint from its own origin.
    clientBasedCORS: (_ctx, origin, client) =>
      client.redirectUris?.some((uri) => new URL(uri).origin === origin) ?? false,
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    ttl: { IdToken: options.idTokenTtlSeconds ?? 3_600 },
    interactions: { url: (_ctx, interaction) => `${OIDC_PATH}/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx: KoaContextWithOIDC, form: string) => {
          ctx.type = "html";
          ctx.body = page(
            "Sign out of the chat",
            `${DEV_NOTICE}${form}<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Sign out</button>`,
          );
        },
        postLogoutSuccessSource: async (ctx: KoaContextWithOIDC) => {
          ctx.type = "html";
          ctx.body = page("Signed out", `<p>You are signed out. <a href="${options.origin}/">Back to the chat</a></p>`);
        },
      },
    },
    renderError: async (ctx, out) => {
      ctx.type = "html";
      ctx.body = page(
        "Sign-in failed",
        `<p class="error">${escapeHtml(String(out.error_description ?? out.error))}</p>`,
      );
    },
  };
  // Loaded only in OIDC mode: guest mode needs none of it (it is a dev dependency, and warns on Node 20 at load).
  const { default: Provider } = await import("oidc-provider");
  const provider = new Provider(issuer, configuration);
  const callback = provider.callback();

  async function interaction(request: IncomingMessage, response: ServerResponse, uid: string): Promise<void> {
    const details = await provider.interactionDetails(request, response);
    if (request.method === "GET" && details.prompt.name === "login") {
      return void response.writeHead(200, PAGE_HEADERS).end(signInForm(uid));
    }
    let accountId = details.session?.accountId;
    if (details.prompt.name === "login") {
      const body = (await readBody(request, 16 * 1024))?.toString("utf8") ?? "";
      const typed = new URLSearchParams(body).get("username") ?? "";
      const username = parseUsername(typed);
      if (!username.ok) return void response.writeHead(400, PAGE_HEADERS).end(signInForm(uid, typed, username.error));
      accountId = username.value;
    }
    if (!accountId) throw new Error("consent asked without a signed-in account");
    // The page is the provider's only client, a first party: what it asks for is granted without a consent screen.
    const grant = details.grantId
      ? ((await provider.Grant.find(details.grantId)) ??
        new provider.Grant({ accountId, clientId: DEV_OIDC_CLIENT_ID }))
      : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    grant.addOIDCScope(String(details.params.scope ?? "openid"));
    const grantId = await grant.save();
    await provider.interactionFinished(
      request,
      response,
      { login: { accountId }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  }

  return {
    issuer,
    clientId: DEV_OIDC_CLIENT_ID,
    owns: (path) => path === OIDC_PATH || path.startsWith(`${OIDC_PATH}/`),
    async handle(request, response) {
      const url = request.url ?? "/";
      const path = url.split("?", 1)[0] ?? "/";
      const uid = INTERACTION.exec(path)?.[1];
      if (uid !== undefined && (request.method === "GET" || request.method === "POST")) {
        try {
          return await interaction(request, response, uid);
        } catch (error) {
          // Most often an interaction that expired or whose cookie is gone: start the sign-in again from the page.
          const text = error instanceof Error ? error.message : String(error);
          return void response
            .writeHead(400, PAGE_HEADERS)
            .end(
              page("Sign-in failed", `<p class="error">${escapeHtml(text)}</p><p><a href="/">Back to the chat</a></p>`),
            );
        }
      }
      // Mounted as connect/express mount it: the provider reads its own paths, and finds the mount in originalUrl.
      const mounted = request as IncomingMessage & { originalUrl?: string };
      mounted.originalUrl = url;
      request.url = url.slice(OIDC_PATH.length) || "/";
      callback(request, response);
    },
  };
}
