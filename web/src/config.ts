import * as v from "valibot";
import type { OidcConfig } from "./oidc.ts";

/** Where the page finds the chat (PROTOCOL §1). */
export interface ChatConfig {
  /** The WebSocket endpoint, `ws:` or `wss:`. */
  readonly wsUrl: string;
  /** The absolute session endpoint. */
  readonly sessionUrl: string;
  /** How people sign in: guests name themselves; in OIDC mode an OpenID provider names them. */
  readonly auth: ChatAuth;
}

/** `config.json`'s `auth` (PROTOCOL §1); absent means guest mode, as before it existed. */
export type ChatAuth = { readonly mode: "guest" } | ({ readonly mode: "oidc" } & OidcConfig);

const httpsOrLoopback = (url: string): boolean =>
  URL.canParse(url) &&
  (new URL(url).protocol === "https:" || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(url));

const authSchema = v.variant("mode", [
  v.object({ mode: v.literal("guest") }),
  v.object({
    mode: v.literal("oidc"),
    issuer: v.pipe(v.string(), v.check(httpsOrLoopback, "auth.issuer must be an https URL")),
    clientId: v.pipe(v.string(), v.minLength(1, "auth.clientId must not be empty")),
    logoutUrl: v.optional(v.pipe(v.string(), v.check(httpsOrLoopback, "auth.logoutUrl must be an https URL"))),
  }),
]);

const configSchema = v.object({
  wsUrl: v.pipe(v.string(), v.regex(/^wss?:\/\//i, "wsUrl must be a ws:// or wss:// URL")),
  sessionUrl: v.pipe(v.string(), v.minLength(1, "sessionUrl must not be empty")),
  auth: v.optional(authSchema, { mode: "guest" }),
});

/** `/config.json` is missing or not of the documented shape. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Validates a parsed `/config.json`; a relative `sessionUrl` is resolved against the page. */
export function parseConfig(json: unknown, base: string): ChatConfig {
  const result = v.safeParse(configSchema, json);
  if (!result.success) throw new ConfigError(`config.json: ${result.issues[0].message}`);
  const { wsUrl, sessionUrl, auth } = result.output;
  return { wsUrl, sessionUrl: new URL(sessionUrl, base).href, auth };
}

/** Reads `/config.json` from the site; never cached, so a redeploy that moves the endpoints is picked up. */
export async function loadConfig(fetchFn: typeof fetch = fetch, base = location.href): Promise<ChatConfig> {
  let response: Response;
  try {
    response = await fetchFn("/config.json", { cache: "no-store" });
  } catch (cause) {
    throw new ConfigError("config.json could not be loaded", { cause });
  }
  if (!response.ok) throw new ConfigError(`config.json answered ${response.status}`);
  return parseConfig(await response.json().catch(() => undefined), base);
}
