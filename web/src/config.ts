import * as v from "valibot";

/** Where the page finds the chat (PROTOCOL §1). */
export interface ChatConfig {
  /** The WebSocket endpoint, `ws:` or `wss:`. */
  readonly wsUrl: string;
  /** The absolute session endpoint. */
  readonly sessionUrl: string;
}

const configSchema = v.object({
  wsUrl: v.pipe(v.string(), v.regex(/^wss?:\/\//i, "wsUrl must be a ws:// or wss:// URL")),
  sessionUrl: v.pipe(v.string(), v.minLength(1, "sessionUrl must not be empty")),
});

/** `/config.json` is missing or not of the documented shape. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Validates a parsed `/config.json`; a relative `sessionUrl` is resolved against the page. */
export function parseConfig(json: unknown, base: string): ChatConfig {
  const result = v.safeParse(configSchema, json);
  if (!result.success) throw new ConfigError(`config.json: ${result.issues[0].message}`);
  return { wsUrl: result.output.wsUrl, sessionUrl: new URL(result.output.sessionUrl, base).href };
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
