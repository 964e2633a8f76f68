import type { CoreLogger } from "../core/logger.ts";
import { parseChannel } from "../core/names.ts";
import { InvalidTokenError, type TokenKey, verifySessionToken } from "../core/session-token.ts";
import { headerValue, tokenFromProtocols } from "../core/subprotocol.ts";
import {
  asUnavailable,
  type TokenKeySource,
  type TokenSecretUnavailableError,
  unavailableFields,
} from "../core/token-secret.ts";

/** The part of API Gateway's REQUEST authorizer event for a WebSocket `$connect` that the authorizer reads. */
export interface ConnectAuthorizerEvent {
  methodArn: string;
  headers?: Record<string, string | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
  requestContext?: { connectionId?: string; requestId?: string };
}

/** An IAM policy answer; `context` reaches every later event of the connection as `requestContext.authorizer`. */
export interface AuthorizerResult {
  principalId: string;
  policyDocument: {
    Version: "2012-10-17";
    Statement: { Action: "execute-api:Invoke"; Effect: "Allow" | "Deny"; Resource: string }[];
  };
  context?: { username: string; channel: string };
}

/** API Gateway answers 401 when an authorizer fails with exactly this message. */
export const UNAUTHORIZED = "Unauthorized";

const policy = (principalId: string, effect: "Allow" | "Deny", resource: string): AuthorizerResult => ({
  principalId,
  policyDocument: {
    Version: "2012-10-17",
    Statement: [{ Action: "execute-api:Invoke", Effect: effect, Resource: resource }],
  },
});

/** Dependencies of the authorizer. */
export interface AuthorizerDeps {
  readonly key: TokenKeySource;
  readonly logger: CoreLogger;
  readonly now?: () => number;
}

/**
 * The key, or an error that makes API Gateway answer 500: a Lambda authorizer that fails with any message but
 * "Unauthorized" gets the client a 500 (API Gateway Developer Guide, "Use API Gateway Lambda authorizers"), which is
 * the truth here — the server cannot check tokens — where a 401 or a Deny would blame the client's token.
 */
async function keyOrFail(deps: AuthorizerDeps, requestId: string | undefined): Promise<TokenKey> {
  if (typeof deps.key !== "function") return deps.key;
  try {
    return await deps.key();
  } catch (error) {
    const unavailable = asUnavailable(error);
    deps.logger.error("token key unavailable: answering 500", { ...unavailableFields(unavailable), requestId });
    throw unavailable;
  }
}

/**
 * The `$connect` REQUEST authorizer: a valid session token (query `token`, or offered as a subprotocol beside
 * `chat.v1`) → Allow with `{ username, channel }`; a missing or invalid token → 401; an invalid channel → Deny (403);
 * no token key to check with → 500 (a thrown {@link TokenSecretUnavailableError}), logged.
 * The API declares no identity source, so API Gateway calls this for every handshake, whichever way the token came.
 */
export function createAuthorizerHandler(deps: AuthorizerDeps) {
  return async (event: ConnectAuthorizerEvent): Promise<AuthorizerResult> => {
    const query = event.queryStringParameters ?? {};
    const token = query.token || tokenFromProtocols(headerValue(event.headers, "Sec-WebSocket-Protocol"));
    if (!token) throw new Error(UNAUTHORIZED);
    const key = await keyOrFail(deps, event.requestContext?.requestId);
    let username: string;
    try {
      username = await verifySessionToken(key, token, (deps.now ?? Date.now)());
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
      deps.logger.info("connection refused", { reason: error.message, requestId: event.requestContext?.requestId });
      throw new Error(UNAUTHORIZED);
    }
    const channel = parseChannel(query.channel);
    if (!channel.ok) {
      deps.logger.info("connection refused", { reason: channel.error, requestId: event.requestContext?.requestId });
      return policy(username, "Deny", event.methodArn);
    }
    return { ...policy(username, "Allow", event.methodArn), context: { username, channel: channel.value } };
  };
}
