import { base64url, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { InvalidTokenError, signSessionToken, tokenKey, verifySessionToken } from "../../lambda/core/session-token.ts";
import { NOW, SECRET } from "../fixtures.ts";

const key = tokenKey(SECRET);

describe("session tokens", () => {
  it("signs an HS256 token with sub, iat and exp that verifies to its username", async () => {
    const session = await signSessionToken(key, "Lucy", 3600, NOW);
    const [header, payload] = session.token
      .split(".")
      .slice(0, 2)
      .map((part) => JSON.parse(new TextDecoder().decode(base64url.decode(part))));
    expect(header).toMatchObject({ alg: "HS256" });
    expect(payload).toEqual({ sub: "Lucy", iat: NOW / 1000, exp: NOW / 1000 + 3600 });
    expect(session.expiresAt).toBe(NOW + 3_600_000);
    await expect(verifySessionToken(key, session.token, NOW + 1000)).resolves.toBe("Lucy");
  });

  it("refuses an expired token", async () => {
    const { token } = await signSessionToken(key, "Lucy", 60, NOW);
    await expect(verifySessionToken(key, token, NOW + 61_000)).rejects.toThrow(/expired/);
  });

  it("refuses a token signed with another secret", async () => {
    const { token } = await signSessionToken(tokenKey("another-secret-that-is-long-enough-too"), "Lucy", 60, NOW);
    await expect(verifySessionToken(key, token, NOW)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("refuses a tampered payload", async () => {
    const { token } = await signSessionToken(key, "Lucy", 60, NOW);
    const [header, , signature] = token.split(".");
    const forged = base64url.encode(JSON.stringify({ sub: "Bob", iat: NOW / 1000, exp: NOW / 1000 + 60 }));
    await expect(verifySessionToken(key, `${header}.${forged}.${signature}`, NOW)).rejects.toBeInstanceOf(
      InvalidTokenError,
    );
  });

  it("refuses alg none", async () => {
    const header = base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }));
    const payload = base64url.encode(JSON.stringify({ sub: "Lucy", iat: NOW / 1000, exp: NOW / 1000 + 60 }));
    await expect(verifySessionToken(key, `${header}.${payload}.`, NOW)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("refuses another HMAC algorithm made with the same secret", async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS512" })
      .setSubject("Lucy")
      .setIssuedAt(NOW / 1000)
      .setExpirationTime(NOW / 1000 + 60)
      .sign(key);
    await expect(verifySessionToken(key, token, NOW)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("refuses a token without exp", async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("Lucy")
      .setIssuedAt(NOW / 1000)
      .sign(key);
    await expect(verifySessionToken(key, token, NOW)).rejects.toThrow(/invalid session token/);
  });

  it("refuses a token whose subject is not a valid username", async () => {
    const { token } = await signSessionToken(key, "<server>", 60, NOW);
    await expect(verifySessionToken(key, token, NOW)).rejects.toThrow(/subject/);
  });

  it("refuses garbage", async () => {
    await expect(verifySessionToken(key, "not.a.token", NOW)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("refuses a secret shorter than 32 bytes", () => {
    expect(() => tokenKey("short")).toThrow(RangeError);
  });
});
