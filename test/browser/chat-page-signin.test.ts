import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { online, PageHarness, SCREENSHOTS, say, texts } from "./page-harness.ts";

// OIDC mode end to end: the page signs in at the local stack's development OpenID provider (a real provider,
// oidc-provider) with the authorization code flow and PKCE, and chats under the name it signed in with.
const harness = new PageHarness();
// Chat tokens of 8 seconds, so the page's renewal before expiry (with the ID token) happens within a test.
beforeAll(() => harness.start({ auth: "oidc", tokenTtlSeconds: 8 }), 60_000);
afterEach(() => harness.closePages());
afterAll(() => harness.stop());

/** Opens the page, goes through the provider's form as `username`, and waits to be back online in the chat. */
async function signIn(username: string, channel: string, screenshots = false): Promise<Page> {
  const page = await harness.open(undefined, channel, { waitOnline: false });
  await page.locator("#signin").waitFor();
  expect(await page.locator("#join").isHidden()).toBe(true);
  if (screenshots) {
    await page.screenshot({ path: join(SCREENSHOTS, "oidc-sign-in-screen.png") });
    expect(await harness.seriousViolations(page)).toEqual([]);
  }
  await page.locator("#signin-button").click();
  await page.waitForURL(/\/oidc\/interaction\//);
  const form = page.locator('form input[name="username"]');
  await form.waitFor();
  expect(await page.locator("body").textContent()).toContain("Development only");
  await form.fill(username);
  if (screenshots) {
    await page.screenshot({ path: join(SCREENSHOTS, "oidc-provider-form.png") });
    expect(await harness.seriousViolations(page)).toEqual([]);
  }
  await page.locator('form button[type="submit"]').click();
  await page.waitForURL((url) => url.pathname === "/" && !url.searchParams.has("code"));
  await online(page);
  return page;
}

const storedSignIn = (page: Page) => page.evaluate(() => sessionStorage.getItem("wschat.oidc"));

describe("the chat page in OIDC mode", () => {
  it("signs two people in at the provider and lets them chat under the names they signed in with", async () => {
    const lucy = await signIn("Lucy", "support", true);
    expect(await lucy.locator("#whoami").textContent()).toBe("#support as Lucy");
    expect(new URL(lucy.url()).searchParams.get("channel")).toBe("support");
    const bob = await signIn("Bob", "support");
    await say(lucy, "hello from a signed-in Lucy");
    await expect.poll(() => texts(bob, "other")).toContain("hello from a signed-in Lucy");
    expect(await bob.locator('#messages > li.msg[data-kind="other"]').first().getAttribute("data-from")).toBe("Lucy");
    await lucy.screenshot({ path: join(SCREENSHOTS, "oidc-signed-in-chat.png") });
    expect(await harness.seriousViolations(lucy)).toEqual([]);
    expect(await lucy.locator("#rename-button").isHidden()).toBe(true);
    expect(await lucy.locator("#signout-button").isVisible()).toBe(true);
    expect(harness.pageErrors).toEqual([]);
  });

  it("keeps the sign-in in this tab's sessionStorage across a reload, and ignores a ?username in the address", async () => {
    const lucy = await signIn("Lucy", "reload");
    const kept = JSON.parse((await storedSignIn(lucy)) ?? "{}");
    expect(kept).toMatchObject({ username: "Lucy", idToken: expect.any(String), refreshToken: expect.any(String) });
    expect(await lucy.evaluate(() => localStorage.length)).toBe(0);
    const url = new URL(lucy.url());
    url.searchParams.set("username", "Mallory");
    const visited: string[] = [];
    lucy.on("request", (request) => visited.push(new URL(request.url()).pathname));
    await lucy.goto(url.href);
    await online(lucy);
    expect(await lucy.locator("#whoami").textContent()).toBe("#reload as Lucy");
    expect(visited.filter((path) => path.startsWith("/oidc/auth"))).toEqual([]);
  });

  it("renews its chat token before it expires with the kept ID token, staying online", async () => {
    const lucy = await signIn("Lucy", "renewal");
    const sessions: string[] = [];
    lucy.on("request", (request) => {
      if (new URL(request.url()).pathname === "/session") sessions.push(request.headers().authorization ?? "none");
    });
    // An 8-second token is renewed 2 seconds before it expires.
    await expect.poll(() => sessions.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
    expect(sessions[0]).toMatch(/^Bearer ey/);
    await say(lucy, "still here");
    await expect.poll(() => texts(lucy)).toContain("still here");
  });

  it("refreshes an ID token about to expire with the refresh token before trading it for a chat token", async () => {
    const lucy = await signIn("Lucy", "refresh");
    const before = JSON.parse((await storedSignIn(lucy)) ?? "{}");
    const grants: string[] = [];
    lucy.on("request", (request) => {
      if (new URL(request.url()).pathname === "/oidc/token") grants.push(request.postData() ?? "");
    });
    // As if the ID token had reached the end of its hour: the next chat token renewal must refresh it first.
    await lucy.evaluate(() => {
      const kept = JSON.parse(sessionStorage.getItem("wschat.oidc") ?? "{}");
      sessionStorage.setItem("wschat.oidc", JSON.stringify({ ...kept, expiresLocal: kept.receivedAt + 1 }));
    });
    await expect
      .poll(() => grants.some((body) => body.includes("grant_type=refresh_token")), { timeout: 15_000 })
      .toBe(true);
    await expect
      .poll(async () => JSON.parse((await storedSignIn(lucy)) ?? "{}").receivedAt, { timeout: 10_000 })
      .toBeGreaterThan(before.receivedAt);
    await say(lucy, "refreshed");
    await expect.poll(() => texts(lucy)).toContain("refreshed");
    expect(await lucy.locator("#whoami").textContent()).toBe("#refresh as Lucy");
  });

  it("refuses a redirect back it did not ask for, takes the code out of the address and offers the sign-in", async () => {
    const page = await harness.open(undefined, "forged", { waitOnline: false });
    const url = new URL(page.url());
    url.searchParams.set("code", "stolen-code");
    url.searchParams.set("state", "someone-elses");
    await page.goto(url.href);
    await page.locator("#signin-error").waitFor();
    expect(await page.locator("#signin-error").textContent()).toMatch(/not begun in this tab/);
    const now = new URL(page.url());
    expect([now.searchParams.has("code"), now.searchParams.has("state"), now.searchParams.get("channel")]).toEqual([
      false,
      false,
      "forged",
    ]);
    expect(await storedSignIn(page)).toBeNull();
  });

  it("signs out at the provider too, and then shows the sign-in again", async () => {
    const lucy = await signIn("Lucy", "leaving");
    const revoked: string[] = [];
    lucy.on("request", (request) => {
      if (new URL(request.url()).pathname === "/oidc/token/revocation") revoked.push(request.postData() ?? "");
    });
    await lucy.locator("#signout-button").click();
    await lucy.waitForURL(/\/oidc\/session\/end/);
    expect(await lucy.locator("body").textContent()).toContain("Sign out of the chat");
    await lucy.locator('button[name="logout"]').click();
    await lucy.waitForURL((url) => url.pathname === "/");
    await lucy.locator("#signin").waitFor();
    expect(await storedSignIn(lucy)).toBeNull();
    // The refresh token was revoked on the way out.
    expect(revoked).toEqual([expect.stringContaining("token=")]);
    // The provider's session is over too: signing in asks for a name again.
    await lucy.locator("#signin-button").click();
    await lucy.locator('form input[name="username"]').waitFor();
  });
});
