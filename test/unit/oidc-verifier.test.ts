import fc from "fast-check";
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { IssuerUnavailableError } from "../../lambda/core/oidc-discovery.ts";
import {
  createIdTokenVerifier,
  IdTokenRefusedError,
  UsernameNotAllowedError,
} from "../../lambda/core/oidc-verifier.ts";
import { NOW } from "../fixtures.ts";
import { CLIENT_ID, FakeIssuer, ISSUER, idToken, type SigningKey, signingKey } from "./oidc-issuer-fixture.ts";

let rsa: SigningKey;
let ec: SigningKey;
let stranger: SigningKey;
beforeAll(async () => {
  [rsa, ec, stranger] = await Promise.all([signingKey("k1"), signingKey("k2", "ES256"), signingKey("k1")]);
});

const verifierFor = (issuer: FakeIssuer, now = NOW) =>
  createIdTokenVerifier({ issuer: ISSUER, clientId: CLIENT_ID }, { fetch: issuer.fetch, now: () => now });

describe("ID token verification", () => {
  it("accepts an ID token of the issuer and client and returns cognito:username, normalised", async () => {
    const verify = verifierFor(new FakeIssuer([rsa, ec]));
    await expect(verify(await idToken(rsa, NOW))).resolves.toBe("Lucy");
    await expect(verify(await idToken(ec, NOW, { "cognito:username": "  Zoe\u0308 " }))).resolves.toBe("Zoë");
  });

  it("falls back to preferred_username when there is no cognito:username", async () => {
    const verify = verifierFor(new FakeIssuer([rsa]));
    const token = await idToken(rsa, NOW, { "cognito:username": undefined, preferred_username: "Bob" });
    await expect(verify(token)).resolves.toBe("Bob");
  });

  it("reads the discovery document once and the keys once for many tokens", async () => {
    const issuer = new FakeIssuer([rsa]);
    const verify = verifierFor(issuer);
    for (let i = 0; i < 5; i++) await verify(await idToken(rsa, NOW));
    expect(issuer.requests).toEqual([`${ISSUER}/.well-known/openid-configuration`, `${ISSUER}/.well-known/jwks.json`]);
  });

  it.each([
    ["expired", { exp: Math.floor(NOW / 1000) - 120 }, "expired"],
    ["issued in the future", { iat: Math.floor(NOW / 1000) + 600, exp: Math.floor(NOW / 1000) + 4000 }, "iat"],
    ["of another issuer", { iss: "https://evil.example.com/pool" }, "iss"],
    ["for another client", { aud: "someone-else" }, "aud"],
    ["an access token", { token_use: "access" }, "token_use"],
    ["without exp", { exp: undefined }, "exp"],
    ["of several audiences with azp another client", { aud: [CLIENT_ID, "other"], azp: "other" }, "azp"],
    ["naming no user", { "cognito:username": undefined }, "username"],
  ])("refuses a token %s", async (_, claims, reason) => {
    const verify = verifierFor(new FakeIssuer([rsa]));
    const refusal = await verify(await idToken(rsa, NOW, claims)).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(IdTokenRefusedError);
    expect((refusal as IdTokenRefusedError).reason).toContain(reason);
  });

  it("refuses a token signed by a key the issuer does not publish, even under a published kid", async () => {
    const verify = verifierFor(new FakeIssuer([rsa]));
    await expect(verify(await idToken(stranger, NOW))).rejects.toBeInstanceOf(IdTokenRefusedError);
    await expect(verify(await idToken(stranger, NOW, {}, { kid: "unknown" }))).rejects.toBeInstanceOf(
      IdTokenRefusedError,
    );
  });

  it("refuses HS256 signed with the client id, alg none, and a token whose payload was changed", async () => {
    const verify = verifierFor(new FakeIssuer([rsa]));
    const iat = Math.floor(NOW / 1000);
    const claims = { iss: ISSUER, aud: CLIENT_ID, sub: "s", iat, exp: iat + 60, "cognito:username": "Mallory" };
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .sign(new TextEncoder().encode(CLIENT_ID.padEnd(32, "x")));
    const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.`;
    const [head, , signature] = (await idToken(rsa, NOW)).split(".");
    const changed = `${head}.${Buffer.from(JSON.stringify({ ...claims, "cognito:username": "Admin" })).toString("base64url")}.${signature}`;
    for (const token of [hs, none, changed, "", "a.b.c", "not a token"]) {
      await expect(verify(token), token).rejects.toBeInstanceOf(IdTokenRefusedError);
    }
  });

  it("refuses, as a name not allowed, a proven name that breaks the username rule", async () => {
    const verify = verifierFor(new FakeIssuer([rsa]));
    for (const name of ["lucy@example.com", "<server>", "x".repeat(33), 42]) {
      await expect(verify(await idToken(rsa, NOW, { "cognito:username": name }))).rejects.toBeInstanceOf(
        UsernameNotAllowedError,
      );
    }
  });

  it("says the issuer is unavailable, not that the token is bad, when its documents cannot be had, and retries", async () => {
    const issuer = new FakeIssuer([rsa]);
    issuer.down = true;
    const verify = verifierFor(issuer);
    const token = await idToken(rsa, NOW);
    await expect(verify(token)).rejects.toBeInstanceOf(IssuerUnavailableError);
    issuer.down = false;
    await expect(verify(token)).resolves.toBe("Lucy");
  });

  it("refuses to trust a discovery document that names another issuer", async () => {
    const issuer = new FakeIssuer([rsa]);
    issuer.discoveryIssuer = "https://evil.example.com/pool";
    await expect(verifierFor(issuer)(await idToken(rsa, NOW))).rejects.toBeInstanceOf(IssuerUnavailableError);
  });

  it("refuses to be configured with an issuer that is not an https URL", () => {
    for (const issuer of ["issuer.example.com", "http://issuer.example.com", "https://x.example.com/?a=1"]) {
      expect(() => createIdTokenVerifier({ issuer, clientId: CLIENT_ID })).toThrow(/https URL/);
    }
    expect(() => createIdTokenVerifier({ issuer: "http://127.0.0.1:3000/oidc", clientId: CLIENT_ID })).not.toThrow();
  });
});

describe("ID token verification, properties", () => {
  it("never accepts any change of claims that breaks issuer, audience, expiry or key", async () => {
    const verify = verifierFor(new FakeIssuer([rsa, ec]));
    const nowS = Math.floor(NOW / 1000);
    const breaking = fc.oneof(
      fc.record({ iss: fc.string().filter((s) => s !== ISSUER) }),
      fc.record({ aud: fc.string().filter((s) => s !== CLIENT_ID) }),
      fc.record({ exp: fc.integer({ min: 0, max: nowS - 31 }) }),
      fc.record({ iat: fc.integer({ min: nowS + 31, max: nowS + 10_000_000 }) }),
    );
    await fc.assert(
      fc.asyncProperty(breaking, fc.boolean(), async (claims, useEc) => {
        const refusal = await verify(await idToken(useEc ? ec : rsa, NOW, claims)).catch((error: unknown) => error);
        expect(refusal).toBeInstanceOf(IdTokenRefusedError);
      }),
      { numRuns: 150 },
    );
  });

  it("answers any string given as a token with a refusal, never another error", async () => {
    const verify = verifierFor(new FakeIssuer([rsa]));
    const jwtish = fc
      .tuple(fc.base64String(), fc.base64String(), fc.base64String())
      .map((parts) => parts.join(".").replace(/=/g, ""));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), jwtish), async (token) => {
        const refusal = await verify(token).catch((error: unknown) => error);
        expect(refusal).toBeInstanceOf(IdTokenRefusedError);
      }),
      { numRuns: 300 },
    );
  });
});
