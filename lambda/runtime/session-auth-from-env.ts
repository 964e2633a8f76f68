import type { FetchLike } from "../core/oidc-discovery.ts";
import { createIdTokenVerifier } from "../core/oidc-verifier.ts";
import type { SessionAuth } from "../handlers/session.ts";
import { ConfigurationError, requireEnv } from "./environment.ts";

/**
 * How `POST /session` signs people in, from `CHAT_AUTH`: `guest` (the default) or `oidc`, which needs
 * `CHAT_OIDC_ISSUER` and `CHAT_OIDC_CLIENT_ID` (Cognito or any OpenID provider). Throws at cold start, naming the
 * variable, when one is missing or malformed; the issuer's keys are fetched on first use.
 */
export function sessionAuthFromEnv(
  env: Record<string, string | undefined> = process.env,
  options: { readonly fetch?: FetchLike } = {},
): SessionAuth {
  const mode = env.CHAT_AUTH || "guest";
  if (mode === "guest") return { mode };
  if (mode !== "oidc")
    throw new ConfigurationError(`environment variable CHAT_AUTH must be "guest" or "oidc", got "${mode}"`);
  const issuer = requireEnv("CHAT_OIDC_ISSUER", env);
  const clientId = requireEnv("CHAT_OIDC_CLIENT_ID", env);
  try {
    return { mode, verify: createIdTokenVerifier({ issuer, clientId }, options) };
  } catch (error) {
    throw new ConfigurationError(`environment variable CHAT_OIDC_ISSUER: ${(error as Error).message}`);
  }
}
