/** What the page may connect to besides its own origin. */
export interface CspEndpoints {
  /** The WebSocket URL, e.g. `wss://abc.execute-api.eu-west-1.amazonaws.com/prod`. */
  readonly webSocketUrl: string;
  /** The session endpoint's origin, e.g. `https://xyz.execute-api.eu-west-1.amazonaws.com`. */
  readonly sessionOrigin: string;
  /** Origins the page signs in through (an OpenID provider's discovery and token endpoints). Default: none. */
  readonly authOrigins?: readonly string[];
}

/**
 * The page's Content-Security-Policy: everything from the site itself, no inline script or style, and connections
 * only to the site (config.json), the chat's WebSocket URL and the session endpoint. The values may be CDK tokens.
 */
export function contentSecurityPolicy(endpoints: CspEndpoints): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    ["connect-src 'self'", endpoints.webSocketUrl, endpoints.sessionOrigin, ...(endpoints.authOrigins ?? [])].join(" "),
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "object-src 'none'",
  ].join("; ");
}
