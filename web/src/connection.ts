import { ChatClient, socketTarget } from "./chat-client.ts";
import { type ChatConfig, loadConfig } from "./config.ts";
import type { PageOptions } from "./options.ts";
import { SessionTokens } from "./session.ts";

/** Who the connection is for, as the page knows it. */
export interface ConnectionUser {
  /** The name typed (already checked), or "" when none. */
  username(): string;
  /** The session endpoint's form of that name: messages from it are ours. */
  named(username: string): void;
  /** OIDC mode: a fresh ID token from the sign-in, for `POST /session` (a new one when `renew`). */
  idToken(renew: boolean): Promise<string>;
}

/** The page's chat connection and a way to drop its session (leaving, or another name). */
export interface Connection {
  readonly client: ChatClient;
  forgetSession(): void;
}

/**
 * The {@link ChatClient} of the page: it fetches `/config.json` (once it succeeds; a failed fetch is tried again on
 * the next connect) and a session token for the user's name before each connect.
 */
export function createConnection(options: PageOptions, user: ConnectionUser): Connection {
  let config: Promise<ChatConfig> | undefined;
  const loadConfigOnce = (): Promise<ChatConfig> => {
    config ??= loadConfig().catch((error: unknown) => {
      config = undefined;
      throw error;
    });
    return config;
  };
  let tokens: SessionTokens | undefined;
  const client = new ChatClient({
    pingMs: options.pingMs,
    backoff: { baseMs: options.backoffBaseMs, maxMs: options.backoffMaxMs },
    locate: async (channel, renewToken) => {
      const { wsUrl, sessionUrl, auth } = await loadConfigOnce();
      const username = user.username();
      if (tokens?.username !== username || tokens.sessionUrl !== sessionUrl) {
        tokens?.dispose();
        tokens = new SessionTokens(sessionUrl, username, auth.mode === "oidc" ? { idToken: user.idToken } : {});
      }
      const session = await tokens.session(renewToken);
      user.named(session.username);
      return socketTarget(wsUrl, channel, session.token);
    },
  });
  return {
    client,
    forgetSession: () => {
      tokens?.dispose();
      tokens = undefined;
    },
  };
}
