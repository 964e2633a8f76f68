import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalStack } from "../../local/local-stack.ts";
import { openSocket, startTestStack } from "./harness.ts";
import { refreshAtDevProvider, signInAtDevProvider } from "./oidc-dev-sign-in.ts";

let stack: LocalStack;
beforeAll(async () => {
  stack = await startTestStack({ auth: "oidc" });
});
afterAll(() => stack.close());

const postSession = async (headers: Record<string, string>, body?: string) => {
  const response = await fetch(stack.sessionUrl, { method: "POST", headers, body });
  return { status: response.status, body: await response.json(), headers: response.headers };
};

describe("the local stack in OIDC mode", () => {
  it("says so in config.json, naming its development provider and the page's client", async () => {
    const config = await (await fetch(`${stack.url}/config.json`)).json();
    expect(config.auth).toEqual({ mode: "oidc", issuer: `${stack.url}/oidc`, clientId: "chat-local" });
  });

  it("signs Lucy in at the provider's form, trades her ID token for a session and lets her chat", async () => {
    const signIn = await signInAtDevProvider(stack, "Lucy");
    expect(decodeJwt(signIn.idToken)).toMatchObject({
      iss: `${stack.url}/oidc`,
      aud: "chat-local",
      preferred_username: "Lucy",
    });
    const session = await postSession({ authorization: `Bearer ${signIn.idToken}` });
    expect(session.status).toBe(200);
    expect(session.body.username).toBe("Lucy");
    const lucy = await openSocket(
      `${stack.wsUrl}?${new URLSearchParams({ token: session.body.token, channel: "oidc-room" })}`,
    );
    lucy.send({ action: "send", message: "signed in" });
    await lucy.next((frame) => frame.type === "message" && frame.from === "Lucy" && frame.message === "signed in");
    await lucy.close();
  });

  it("renews with the refresh token: the new ID token gets a session too", async () => {
    const signIn = await signInAtDevProvider(stack, "Bob");
    expect(signIn.refreshToken).toEqual(expect.any(String));
    const renewed = await refreshAtDevProvider(signIn);
    expect(decodeJwt(renewed)).toMatchObject({ aud: "chat-local", preferred_username: "Bob" });
    expect((await postSession({ authorization: `Bearer ${renewed}` })).body.username).toBe("Bob");
  });

  it("refuses a guest body, no token and a tampered ID token with 401", async () => {
    const guest = await postSession({ "content-type": "application/json" }, '{"username":"Mallory"}');
    expect(guest.status).toBe(401);
    expect(guest.body.error).toMatch(/Authorization: Bearer/);
    const signIn = await signInAtDevProvider(stack, "Eve");
    const [head, payload, signature] = signIn.idToken.split(".");
    const claims = { ...decodeJwt(signIn.idToken), preferred_username: "Admin" };
    const tampered = `${head}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${signature}`;
    expect(payload).not.toBe(tampered.split(".")[1]);
    expect((await postSession({ authorization: `Bearer ${tampered}` })).status).toBe(401);
  });

  it("asks again on its form, with the rule, for a name the chat does not allow", async () => {
    await expect(signInAtDevProvider(stack, "lucy@example.com")).rejects.toThrow(
      /sign-in stopped at 400.*may hold only/s,
    );
  });
});
