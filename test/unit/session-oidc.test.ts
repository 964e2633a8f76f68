import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { createIdTokenVerifier } from "../../lambda/core/oidc-verifier.ts";
import { sessionRate, type TakeSlot } from "../../lambda/core/session-rate.ts";
import { tokenKey, verifySessionToken } from "../../lambda/core/session-token.ts";
import {
  createSessionHandler,
  ISSUER_UNAVAILABLE_ERROR,
  type SessionDeps,
  type SessionRequest,
} from "../../lambda/handlers/session.ts";
import { sessionAuthFromEnv } from "../../lambda/runtime/session-auth-from-env.ts";
import { NOW, recordingLogger, SECRET } from "../fixtures.ts";
import { CLIENT_ID, FakeIssuer, ISSUER, idToken, type SigningKey, signingKey } from "./oidc-issuer-fixture.ts";

const key = tokenKey(SECRET);
let signer: SigningKey;
let issuer: FakeIssuer;
beforeAll(async () => {
  signer = await signingKey("k1");
});

function oidcSession(extra: Partial<SessionDeps> = {}) {
  issuer = new FakeIssuer([signer]);
  const verify = createIdTokenVerifier(
    { issuer: ISSUER, clientId: CLIENT_ID },
    { fetch: issuer.fetch, now: () => NOW },
  );
  const handler = createSessionHandler({
    key,
    auth: { mode: "oidc", verify },
    logger: recordingLogger(),
    now: () => NOW,
    ...extra,
  });
  return async (request: SessionRequest) => {
    const response = await handler(request);
    return { status: response.statusCode, body: JSON.parse(response.body), headers: response.headers };
  };
}

const bearer = (token: string): SessionRequest => ({ headers: { authorization: `Bearer ${token}` } });

describe("POST /session in OIDC mode", () => {
  it("trades a valid ID token for a session token of the name it carries", async () => {
    const post = oidcSession();
    const { status, body } = await post(bearer(await idToken(signer, NOW, { "cognito:username": "Lucy" })));
    expect(status).toBe(200);
    expect(body).toEqual({ token: expect.any(String), username: "Lucy", expiresAt: NOW + 3_600_000 });
    await expect(verifySessionToken(key, body.token, NOW)).resolves.toBe("Lucy");
  });

  it("refuses a guest body with 401 and says how to sign in", async () => {
    const post = oidcSession();
    const { status, body, headers } = await post({ body: '{"username":"Lucy"}' });
    expect(status).toBe(401);
    expect(body.error).toMatch(/Authorization: Bearer/);
    expect(headers["www-authenticate"]).toMatch(/^Bearer/);
  });

  it.each([
    ["expired", { exp: Math.floor(NOW / 1000) - 60 }],
    ["of another issuer", { iss: "https://evil.example.com" }],
    ["for another audience", { aud: "another-client" }],
  ])("refuses an ID token %s with 401", async (_, claims) => {
    const post = oidcSession();
    const { status, body } = await post(bearer(await idToken(signer, NOW, claims)));
    expect(status).toBe(401);
    expect(body).toEqual({ error: "the ID token was not accepted; sign in again" });
  });

  it("refuses a forged ID token (another key under the issuer's kid) with 401", async () => {
    const post = oidcSession();
    const forger = await signingKey("k1");
    expect((await post(bearer(await idToken(forger, NOW)))).status).toBe(401);
  });

  it("refuses with 403 a proven name the username rule does not allow", async () => {
    const post = oidcSession();
    const { status, body } = await post(bearer(await idToken(signer, NOW, { "cognito:username": "lucy@example.com" })));
    expect(status).toBe(403);
    expect(body.error).toMatch(/not allowed/);
  });

  it("answers 503 with Retry-After, not 401, while the issuer cannot be reached", async () => {
    const post = oidcSession();
    issuer.down = true;
    const { status, body, headers } = await post(bearer(await idToken(signer, NOW)));
    expect(status).toBe(503);
    expect(body).toEqual({ error: ISSUER_UNAVAILABLE_ERROR });
    expect(headers["retry-after"]).toBe("5");
  });

  it("answers any Authorization header that is no ID token with 401, whatever the body", async () => {
    const post = oidcSession();
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.option(fc.string({ maxLength: 200 })), async (header, body) => {
        const { status } = await post({ headers: { authorization: header }, body });
        expect(status).toBe(401);
      }),
      { numRuns: 300 },
    );
  });
});

describe("POST /session rate per source IP", () => {
  /** An in-memory fixed-window counter with the rate store's contract, on the test's clock. */
  function memoryCounter(clock: () => number): TakeSlot {
    const counts = new Map<string, number>();
    return async (key, { max, windowMs }) => {
      const now = clock();
      const window = Math.floor(now / windowMs);
      const slot = `${key}@${window}`;
      const count = (counts.get(slot) ?? 0) + 1;
      counts.set(slot, count);
      return count <= max ? { allowed: true } : { allowed: false, retryAfterMs: (window + 1) * windowMs - now };
    };
  }

  it("grants 3 sessions a minute to one address, refuses the 4th with 429 and Retry-After, and not another address", async () => {
    let now = NOW + 15_000; // 45 s before the minute ends
    const session = createSessionHandler({
      key,
      rate: sessionRate(
        memoryCounter(() => now),
        3,
      ),
      logger: recordingLogger(),
      now: () => now,
    });
    const from = (ip: string) => session({ body: '{"username":"Lucy"}', requestContext: { http: { sourceIp: ip } } });
    for (let i = 0; i < 3; i++) expect((await from("203.0.113.7")).statusCode).toBe(200);
    const refused = await from("203.0.113.7");
    expect(refused.statusCode).toBe(429);
    expect(refused.headers["retry-after"]).toBe("45");
    expect(JSON.parse(refused.body).error).toMatch(/too many new sessions/);
    expect((await from("198.51.100.1")).statusCode).toBe(200);
    now += 45_000;
    expect((await from("203.0.113.7")).statusCode).toBe(200);
  });

  it("does not count bad requests, and answers 503 when the counter fails", async () => {
    const taken: string[] = [];
    const session = createSessionHandler({
      key,
      rate: async (ip) => {
        taken.push(ip);
        throw new Error("throttled");
      },
      logger: recordingLogger(),
    });
    expect((await session({ body: "{}", requestContext: { http: { sourceIp: "203.0.113.7" } } })).statusCode).toBe(400);
    expect(taken).toEqual([]);
    const failed = await session({
      body: '{"username":"Lucy"}',
      requestContext: { http: { sourceIp: "203.0.113.7" } },
    });
    expect(failed.statusCode).toBe(503);
    expect(taken).toEqual(["203.0.113.7"]);
  });
});

describe("the session's sign-in mode from the environment", () => {
  it("is guest mode by default and OIDC with an issuer and client", () => {
    expect(sessionAuthFromEnv({})).toEqual({ mode: "guest" });
    const oidc = sessionAuthFromEnv({ CHAT_AUTH: "oidc", CHAT_OIDC_ISSUER: ISSUER, CHAT_OIDC_CLIENT_ID: CLIENT_ID });
    expect(oidc.mode).toBe("oidc");
  });

  it("fails at cold start, naming the variable, when OIDC mode lacks its settings or the mode is unknown", () => {
    expect(() => sessionAuthFromEnv({ CHAT_AUTH: "oidc", CHAT_OIDC_CLIENT_ID: CLIENT_ID })).toThrow(/CHAT_OIDC_ISSUER/);
    expect(() => sessionAuthFromEnv({ CHAT_AUTH: "oidc", CHAT_OIDC_ISSUER: ISSUER })).toThrow(/CHAT_OIDC_CLIENT_ID/);
    expect(() =>
      sessionAuthFromEnv({ CHAT_AUTH: "oidc", CHAT_OIDC_ISSUER: "http://x.example", CHAT_OIDC_CLIENT_ID: "c" }),
    ).toThrow(/CHAT_OIDC_ISSUER/);
    expect(() => sessionAuthFromEnv({ CHAT_AUTH: "cognito" })).toThrow(/CHAT_AUTH/);
  });
});
