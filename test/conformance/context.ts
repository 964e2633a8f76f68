import { randomBytes } from "node:crypto";
import { type ChatSocket, type Handshake, handshake } from "./client.ts";
import { ConformanceError, show } from "./conformance-error.ts";
import { type HttpAnswer, post } from "./http.ts";

/** What `{site}/config.json` says (PROTOCOL §1), `sessionUrl` made absolute. */
export interface DeploymentConfig {
  readonly siteUrl: string;
  readonly wsUrl: string;
  readonly sessionUrl: string;
  /** `guest` when config.json has no `auth` (v1 deployments). */
  readonly auth:
    | { readonly mode: "guest" }
    | { readonly mode: "oidc"; readonly issuer?: string; readonly clientId?: string };
}

/**
 * Bound of each single wait. Generous, since only a failure waits it out: a burst on a loaded two-core machine, or
 * Lambda cold starts on AWS, can leave seconds between two answers.
 */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** Settings of one run of the suite. */
export interface RunOptions {
  /** Bound of every single wait (a frame, a handshake, an HTTP answer). Default: `DEFAULT_TIMEOUT_MS`. */
  readonly timeoutMs?: number;
  /** Random part of every username and channel of the run. Default: 6 random characters. */
  readonly runId?: string;
  /**
   * Signs a session token with the deployment's own secret; only a caller that knows the secret (the local suite)
   * has it. Used for an expired but validly signed token, which cannot be made from outside.
   */
  readonly signToken?: (username: string, issuedAtMs: number, ttlSeconds: number) => Promise<string>;
}

/** What a scenario gets: the deployment, unique names, sessions, and sockets that are closed after it. */
export interface ScenarioContext {
  readonly config: DeploymentConfig;
  readonly timeoutMs: number;
  readonly signToken?: RunOptions["signToken"];
  /** A username unique to this run and scenario, e.g. `conf-k3x9q2-4-a`. */
  username(role: string): string;
  /** A channel unique to this run and scenario. */
  channel(role: string): string;
  /** `POST {sessionUrl}` with a raw body. */
  postSession(body: string, headers?: Record<string, string>): Promise<HttpAnswer>;
  /** A guest session token for `username`, requested once and reused within the scenario. */
  token(username: string): Promise<string>;
  /** A handshake to `{wsUrl}?{query}`; an opened socket is closed after the scenario. */
  handshake(query: Record<string, string>, protocols?: string[], label?: string): Promise<Handshake>;
  /** Connects `username` to `channel`, the token in the query (the seed's way), with the user's session token. */
  join(username: string, channel: string): Promise<ChatSocket>;
  /** Adds a line to the scenario's report (e.g. a limit of what it could check). */
  note(text: string): void;
}

/** A random id of lowercase letters and digits. */
export const newRunId = (): string =>
  randomBytes(6)
    .toString("base64url")
    .replace(/[^a-z0-9]/gi, "x")
    .slice(0, 6)
    .toLowerCase();

/** A context for scenario number `index` of a run; `dispose` closes its sockets, `violations` lists schema breaks. */
export function createContext(
  config: DeploymentConfig,
  index: number,
  options: RunOptions & { runId: string; timeoutMs: number },
): ScenarioContext & { sockets: ChatSocket[]; notes: string[]; dispose(): Promise<void> } {
  const sockets: ChatSocket[] = [];
  const notes: string[] = [];
  const tokens = new Map<string, Promise<string>>();
  const prefix = `conf-${options.runId}-${index}`;
  const { timeoutMs } = options;

  const context = {
    config,
    timeoutMs,
    signToken: options.signToken,
    sockets,
    notes,
    username: (role: string) => `${prefix}-${role}`,
    channel: (role: string) => `${prefix}-${role}`,
    postSession: (body: string, headers: Record<string, string> = {}) =>
      post(config.sessionUrl, body, headers, timeoutMs),
    token(username: string): Promise<string> {
      let token = tokens.get(username);
      if (!token) {
        token = requestToken(context, username);
        tokens.set(username, token);
      }
      return token;
    },
    async handshake(query: Record<string, string>, protocols?: string[], label = "a client"): Promise<Handshake> {
      const search = new URLSearchParams(query).toString();
      const url = search ? `${config.wsUrl}${config.wsUrl.includes("?") ? "&" : "?"}${search}` : config.wsUrl;
      const result = await handshake(url, protocols, label, timeoutMs);
      if (result.ok) sockets.push(result.socket);
      return result;
    },
    async join(username: string, channel: string): Promise<ChatSocket> {
      const result = await context.handshake({ channel, token: await context.token(username) }, undefined, username);
      if (!result.ok) {
        throw new ConformanceError(
          `${username} could not join ${channel}`,
          "the handshake to be accepted (101)",
          `HTTP ${result.status}`,
        );
      }
      return result.socket;
    },
    note: (text: string) => void notes.push(text),
    async dispose(): Promise<void> {
      await Promise.all(sockets.map((socket) => socket.close()));
    },
  };
  return context;
}

async function requestToken(context: ScenarioContext, username: string): Promise<string> {
  const answer = await context.postSession(JSON.stringify({ username }));
  const token = (answer.json as { token?: unknown } | undefined)?.token;
  if (answer.status === 200 && typeof token === "string") return token;
  const hint = answer.status === 429 ? " (the session rate limit: wait a minute and run again)" : "";
  throw new ConformanceError(
    `no session for ${username}${hint}`,
    `POST ${context.config.sessionUrl} to answer 200 {"token"}`,
    `HTTP ${answer.status} ${show(answer.text)}`,
  );
}
