/** What the address asks for: `/?username=Lucy&channel=support` (PROTOCOL §6). */
export interface Wanted {
  readonly username?: string;
  readonly channel?: string;
}

/** Reads the username and channel from a query string; absent ones are `undefined`. */
export function readLocation(search: string): Wanted {
  const params = new URLSearchParams(search);
  return { username: params.get("username") ?? undefined, channel: params.get("channel") ?? undefined };
}

/**
 * The page's address for `wanted`, keeping other parameters (the tests' timing overrides): a channel switch becomes
 * a history entry of its own, so Back and Forward move between channels.
 */
export function chatUrl(href: string, wanted: Wanted): URL {
  const url = new URL(href);
  for (const key of ["username", "channel"] as const) {
    const value = wanted[key];
    if (value === undefined || value === "") url.searchParams.delete(key);
    else url.searchParams.set(key, value);
  }
  return url;
}
