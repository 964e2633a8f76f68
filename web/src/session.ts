import * as v from "valibot";
import { isFresh, localExpiry, refreshDelay } from "./session-expiry.ts";

/** A session token as this tab keeps it. */
export interface Session {
  readonly token: string;
  /** The username as the server normalised it; messages `from` this name are ours. */
  readonly username: string;
  /** Server's expiry (epoch ms, server clock). */
  readonly expiresAt: number;
  /** When it arrived and when it expires, both by this browser's clock. */
  readonly receivedAt: number;
  readonly expiresLocal: number;
}

/** The session endpoint refused the username (400/413): retrying cannot help, the user must pick another name. */
export class SessionRefused extends Error {
  override readonly name: string = "SessionRefused";
}

/** In OIDC mode: the sign-in is gone or was refused; only signing in again can help. */
export class SignInRequired extends SessionRefused {
  override readonly name = "SignInRequired";
}

/** The session endpoint could not be reached or answered oddly: worth retrying later. */
export class SessionUnavailable extends Error {
  override readonly name = "SessionUnavailable";
}

const answerSchema = v.object({ token: v.string(), username: v.string(), expiresAt: v.number() });
const storedSchema = v.object({ ...answerSchema.entries, receivedAt: v.number(), expiresLocal: v.number() });
const refusalSchema = v.object({ error: v.string() });

const STORAGE_KEY = "wschat.session";

/** Dependencies of {@link SessionTokens}; the defaults are the browser's. */
export interface SessionTokenDeps {
  readonly fetch?: typeof fetch;
  /** Where the token survives a reload of this tab. Default: `sessionStorage` (per tab, gone when it closes). */
  readonly storage?: Pick<Storage, "getItem" | "setItem" | "removeItem">;
  readonly now?: () => number;
  /**
   * OIDC mode: a fresh ID token (`renew` asks for a new one), sent as `Authorization: Bearer` instead of a username.
   * Default: none (guest mode).
   */
  readonly idToken?: (renew: boolean) => Promise<string>;
}

/**
 * Session tokens for one username (PROTOCOL §2): fetched with `POST {sessionUrl}`, kept for the tab, renewed shortly
 * before they expire and on demand when a connection was refused.
 */
export class SessionTokens {
  readonly #fetch: typeof fetch;
  readonly #storage: SessionTokenDeps["storage"];
  readonly #now: () => number;
  readonly #idToken: SessionTokenDeps["idToken"];
  #session: Session | undefined;
  #inFlight: Promise<Session> | undefined;
  #renewTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly sessionUrl: string,
    readonly username: string,
    deps: SessionTokenDeps = {},
  ) {
    this.#fetch = deps.fetch ?? fetch.bind(globalThis);
    this.#storage = deps.storage ?? sessionStorage;
    this.#now = deps.now ?? Date.now;
    this.#idToken = deps.idToken;
    this.#session = this.#restore();
    if (this.#session) this.#scheduleRenewal(this.#session);
  }

  /** A token good for a new connection: the kept one while fresh, else (or when `renew`) a new one. */
  async session(renew = false): Promise<Session> {
    const kept = this.#session;
    if (!renew && kept && isFresh(kept.expiresLocal, kept.receivedAt, this.#now())) return kept;
    // Concurrent callers share one request.
    this.#inFlight ??= this.#request().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /** Just the token, for {@link ChatClient}'s `TokenSource`. */
  async token(renew = false): Promise<string> {
    return (await this.session(renew)).token;
  }

  /** Stops the renewal timer (the page switched user). */
  dispose(): void {
    clearTimeout(this.#renewTimer);
  }

  /** `POST {sessionUrl}`: the username (guest mode) or an ID token (OIDC mode). */
  async #post(renewIdToken: boolean): Promise<Response> {
    const init: RequestInit = this.#idToken
      ? { method: "POST", headers: { authorization: `Bearer ${await this.#idToken(renewIdToken)}` } }
      : {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: this.username }),
        };
    try {
      return await this.#fetch(this.sessionUrl, { ...init, cache: "no-store" });
    } catch (cause) {
      throw new SessionUnavailable("the session service cannot be reached", { cause });
    }
  }

  async #request(): Promise<Session> {
    let response = await this.#post(false);
    // An ID token refused though fresh here (clocks apart, keys rotated): one new one, then only signing in helps.
    if (response.status === 401 && this.#idToken) response = await this.#post(true);
    const body: unknown = await response.json().catch(() => undefined);
    if (response.status === 401 && this.#idToken) throw new SignInRequired("the sign-in was not accepted");
    if (response.status === 400 || response.status === 403 || response.status === 413) {
      const refusal = v.safeParse(refusalSchema, body);
      throw new SessionRefused(
        refusal.success ? refusal.output.error : `the username was refused (${response.status})`,
      );
    }
    const answer = v.safeParse(answerSchema, body);
    if (!response.ok || !answer.success)
      throw new SessionUnavailable(`the session service answered ${response.status}`);
    const receivedAt = this.#now();
    const { token, username, expiresAt } = answer.output;
    const session = { token, username, expiresAt, receivedAt, expiresLocal: localExpiry(token, expiresAt, receivedAt) };
    this.#keep(session);
    return session;
  }

  #keep(session: Session): void {
    this.#session = session;
    try {
      this.#storage?.setItem(STORAGE_KEY, JSON.stringify(session));
    } catch {
      // Storage full or disabled (private mode): the token then lives as long as the page.
    }
    this.#scheduleRenewal(session);
  }

  #scheduleRenewal(session: Session): void {
    clearTimeout(this.#renewTimer);
    // Renewing ahead keeps a reconnect after the 2-hour cut from waiting on the session endpoint.
    this.#renewTimer = setTimeout(
      () => void this.session(true).catch(() => undefined),
      refreshDelay(session.expiresLocal, session.receivedAt, this.#now()),
    );
  }

  #restore(): Session | undefined {
    let raw: string | null | undefined;
    try {
      raw = this.#storage?.getItem(STORAGE_KEY);
    } catch {
      return undefined;
    }
    if (!raw) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return undefined;
    }
    const stored = v.safeParse(storedSchema, json);
    // A token of another name is of no use; trimming matches the server's normalisation of the name.
    return stored.success && stored.output.username === this.username.trim() ? stored.output : undefined;
  }
}
