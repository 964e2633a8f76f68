/**
 * The session token off the URL. Browsers cannot set headers on a WebSocket, so a token in the query string ends up in
 * access logs and consoles; instead the page offers two subprotocols, `chat.v1` and the token itself, and `$connect`
 * answers with `chat.v1` alone (API Gateway requires the chosen protocol to be echoed, or the browser drops the
 * connection). The query form `?token=` stays for seed-style clients.
 */
export const CHAT_SUBPROTOCOL = "chat.v1";

/** The header as API Gateway passes it, looked up without regard to case. */
export function headerValue(
  headers: Record<string, string | undefined> | null | undefined,
  name: string,
): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

const offered = (header: string | undefined): string[] =>
  (header ?? "")
    .split(",")
    .map((protocol) => protocol.trim())
    .filter((protocol) => protocol.length > 0);

/** A JWT's shape (three base64url parts), which is also a valid subprotocol token. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The session token a client offered among its subprotocols, next to `chat.v1`. */
export function tokenFromProtocols(header: string | undefined): string | undefined {
  const protocols = offered(header);
  if (!protocols.includes(CHAT_SUBPROTOCOL)) return undefined;
  return protocols.find((protocol) => protocol !== CHAT_SUBPROTOCOL && JWT_SHAPE.test(protocol));
}

/** Whether the client offered `chat.v1`, which `$connect` must then echo. */
export const offersChatProtocol = (header: string | undefined): boolean => offered(header).includes(CHAT_SUBPROTOCOL);
