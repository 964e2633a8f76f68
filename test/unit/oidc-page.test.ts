import { describe, expect, it } from "vitest";
import { parseConfig } from "../../web/src/config.ts";
import { SessionRefused, SessionTokens, SessionUnavailable, SignInRequired } from "../../web/src/session.ts";

const BASE = "https://chat.example.com/";

/** A Storage kept in a Map, as a tab's sessionStorage. */
function memoryStorage() {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
  };
}

/** A session token as the endpoint answers it (the page reads only its claims' lifetime). */
const answer = (username: string) => {
  const claims = Buffer.from(JSON.stringify({ sub: username, iat: 1, exp: 3601 })).toString("base64url");
  return Response.json({ token: `e30.${claims}.sig`, username, expiresAt: Date.now() + 3_600_000 });
};

describe("the page's config.json in OIDC mode", () => {
  it("reads guest mode when auth is missing, and an OIDC issuer and client", () => {
    expect(parseConfig({ wsUrl: "wss://ws.example.com", sessionUrl: "/session" }, BASE).auth).toEqual({
      mode: "guest",
    });
    const auth = { mode: "oidc", issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_A", clientId: "abc" };
    expect(parseConfig({ wsUrl: "wss://ws.example.com", sessionUrl: "/session", auth }, BASE).auth).toEqual(auth);
  });

  it.each([
    [{ mode: "oidc", issuer: "http://id.example.com", clientId: "c" }, /https/],
    [{ mode: "oidc", issuer: "https://id.example.com", clientId: "" }, /clientId/],
    [{ mode: "saml" }, /./],
  ])("refuses the auth %j", (auth, error) => {
    expect(() => parseConfig({ wsUrl: "wss://ws.example.com", sessionUrl: "/session", auth }, BASE)).toThrow(error);
  });
});

describe("the page's session tokens in OIDC mode", () => {
  it("posts the ID token as a bearer token, with no body, and keeps the session the name it gets", async () => {
    const seen: RequestInit[] = [];
    const tokens = new SessionTokens("https://api.example.com/session", "Lucy", {
      storage: memoryStorage(),
      fetch: async (_, init) => {
        seen.push(init ?? {});
        return answer("Lucy");
      },
      idToken: async () => "id-token-1",
    });
    expect((await tokens.session()).username).toBe("Lucy");
    expect(seen).toEqual([
      expect.objectContaining({ method: "POST", headers: { authorization: "Bearer id-token-1" } }),
    ]);
    expect(seen[0]?.body).toBeUndefined();
    tokens.dispose();
  });

  it("asks for a new ID token once when the endpoint answers 401, then succeeds", async () => {
    const renewals: boolean[] = [];
    let calls = 0;
    const tokens = new SessionTokens("https://api.example.com/session", "Lucy", {
      storage: memoryStorage(),
      fetch: async () => (++calls === 1 ? Response.json({ error: "expired" }, { status: 401 }) : answer("Lucy")),
      idToken: async (renew) => {
        renewals.push(renew);
        return renew ? "fresh" : "stale";
      },
    });
    await tokens.session();
    expect(renewals).toEqual([false, true]);
    tokens.dispose();
  });

  it("says the person must sign in again when even a new ID token is refused, and a name refused is refused", async () => {
    const refusing = (status: number) =>
      new SessionTokens("https://api.example.com/session", "Lucy", {
        storage: memoryStorage(),
        fetch: async () => Response.json({ error: "no" }, { status }),
        idToken: async () => "id",
      });
    await expect(refusing(401).session()).rejects.toBeInstanceOf(SignInRequired);
    const forbidden = await refusing(403)
      .session()
      .catch((error: unknown) => error);
    expect(forbidden).toBeInstanceOf(SessionRefused);
    expect(forbidden).not.toBeInstanceOf(SignInRequired);
    await expect(refusing(429).session()).rejects.toBeInstanceOf(SessionUnavailable);
    await expect(refusing(503).session()).rejects.toBeInstanceOf(SessionUnavailable);
  });
});
