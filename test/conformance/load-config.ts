import type { DeploymentConfig } from "./context.ts";

/** The URL given is not the chat's site: what was expected where, in one sentence. */
export class NotTheChatError extends Error {
  override readonly name = "NotTheChatError";
}

const EXPECTED = 'a JSON object {"wsUrl","sessionUrl","auth"} (the chat\'s config.json)';

/** Why a fetch failed, in words (`connection refused`, `host not found`, …). */
function reasonOf(error: unknown, timeoutMs: number): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const code = (cause as { code?: string } | undefined)?.code;
  if (error instanceof Error && error.name === "TimeoutError") return `no answer within ${timeoutMs / 1_000} s`;
  if (code === "ECONNREFUSED") return "the connection was refused (nothing listens there)";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "the host name was not found";
  return cause instanceof Error ? cause.message : String(cause);
}

/** `https://site/` or `https://site` → `https://site/config.json`; anything but an http(s) URL is refused. */
export function configUrlOf(site: string): string {
  let url: URL;
  try {
    url = new URL(site);
  } catch {
    throw new NotTheChatError(`expected the chat's site URL (e.g. https://d1234abcd.cloudfront.net), got "${site}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new NotTheChatError(`expected an http:// or https:// site URL, got "${site}"`);
  }
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/config.json`;
  url.search = "";
  url.hash = "";
  return url.href;
}

/** Reads and checks `{site}/config.json` (PROTOCOL §1); any other answer is a `NotTheChatError` saying what came. */
export async function loadConfig(site: string, timeoutMs = 10_000): Promise<DeploymentConfig> {
  const configUrl = configUrlOf(site);
  const notChat = (what: string) => new NotTheChatError(`expected ${EXPECTED} at ${configUrl}, but ${what}`);
  let response: Response;
  try {
    response = await fetch(configUrl, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: "application/json" },
    });
  } catch (error) {
    throw notChat(`the request failed: ${reasonOf(error, timeoutMs)}`);
  }
  const text = await response.text();
  if (!response.ok) throw notChat(`it answered HTTP ${response.status}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    const type = response.headers.get("content-type") ?? "no content type";
    const html = /html/i.test(type) || /^\s*</.test(text);
    throw notChat(`it answered ${html ? "HTML" : "something that is not JSON"} (${type})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw notChat("it answered JSON of another shape");
  const config = json as Record<string, unknown>;
  if (typeof config.wsUrl !== "string" || !/^wss?:\/\//i.test(config.wsUrl)) {
    throw notChat(`it has no wsUrl (a ws:// or wss:// URL); it has ${JSON.stringify(Object.keys(config))}`);
  }
  if (typeof config.sessionUrl !== "string" || config.sessionUrl === "") {
    throw notChat(`it has no sessionUrl; it has ${JSON.stringify(Object.keys(config))}`);
  }
  return {
    siteUrl: site,
    wsUrl: config.wsUrl,
    sessionUrl: new URL(config.sessionUrl, configUrl).href,
    auth: authOf(config.auth, notChat),
  };
}

function authOf(auth: unknown, notChat: (what: string) => Error): DeploymentConfig["auth"] {
  if (auth === undefined) return { mode: "guest" }; // v1 deployments name no auth: guest is the default
  const mode = (auth as { mode?: unknown } | null)?.mode;
  if (mode === "guest") return { mode };
  if (mode === "oidc") {
    const { issuer, clientId } = auth as { issuer?: unknown; clientId?: unknown };
    return { mode, issuer: String(issuer ?? ""), clientId: String(clientId ?? "") };
  }
  throw notChat(`its auth.mode is ${JSON.stringify(mode)}, not "guest" or "oidc"`);
}
