import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiGatewayManagementApiClient, DeleteConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws.ts";
import type { LocalStack } from "../../local/local-stack.ts";
import { buildWeb } from "../../web/build.ts";
import { eventually, roomInRateWindow, startTestStack, storedConnections } from "../integration/harness.ts";

// The page in headless Chromium against the local stack (ignored folder for the screenshots).
const SCREENSHOTS = join("test-results", "screenshots");
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let stack: LocalStack;
let browser: Browser;
let webDir: string;
const pages: Page[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  webDir = await mkdtemp(join(tmpdir(), "chat-web-"));
  await buildWeb(webDir);
  stack = await startTestStack({ webDir });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
  });
  await mkdir(SCREENSHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await rm(webDir, { recursive: true, force: true });
});

/** Opens the page as the seed does, `/?username=…&channel=…`, in its own browser context (its own tab storage). */
async function open(username: string, channel: string, viewport = { width: 1280, height: 800 }): Promise<Page> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(`${username}: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy/.test(message.text())) pageErrors.push(message.text());
  });
  page.on("dialog", (dialog) => {
    pageErrors.push(`dialog opened: ${dialog.message()}`);
    void dialog.dismiss();
  });
  await page.goto(
    `${stack.url}/?${new URLSearchParams({ username, channel, backoffBaseMs: "100", backoffMaxMs: "500" })}`,
  );
  await page.locator('#connection-status[data-state="online"]').waitFor();
  pages.push(page);
  return page;
}

const texts = (page: Page, kind?: string) =>
  page.locator(`#messages > li.msg${kind ? `[data-kind="${kind}"]` : ""} .msg-text`).allTextContents();
const presence = (page: Page) =>
  page
    .locator("#presence-list > li[data-user]")
    .evaluateAll((items) => items.map((item) => item.getAttribute("data-user")));

async function say(page: Page, text: string): Promise<void> {
  await page.locator("#message-input").fill(text);
  await page.locator("#message-input").press("Enter");
}

describe("the chat page", () => {
  it("lets two users chat in one channel while a third in another channel sees nothing", async () => {
    const lucy = await open("Lucy", "support");
    const bob = await open("Bob", "support");
    const eve = await open("Eve", "sales");
    await say(lucy, "hello Bob");
    await expect.poll(() => texts(bob, "other")).toContain("hello Bob");
    await expect.poll(() => texts(lucy, "own")).toContain("hello Bob");
    await expect.poll(() => lucy.locator("#message-input").inputValue()).toBe("");
    await say(bob, "hi Lucy");
    await expect.poll(() => texts(lucy, "other")).toContain("hi Lucy");
    expect(await bob.locator('#messages > li.msg[data-kind="other"]').first().getAttribute("data-from")).toBe("Lucy");
    await expect.poll(() => texts(lucy, "system")).toContain("Bob connected");
    expect(await texts(eve)).not.toContain("hello Bob");
    expect(await texts(eve)).not.toContain("hi Lucy");
    await lucy.screenshot({ path: join(SCREENSHOTS, "desktop-lucy.png") });
  });

  it("shows an HTML and script payload as literal text and runs nothing", async () => {
    const mallory = await open("Mallory", "xss");
    const victim = await open("Victim", "xss");
    const payload = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold</b>`;
    await say(mallory, payload);
    await expect.poll(() => texts(victim, "other")).toContain(payload);
    expect(await victim.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await victim.locator("#messages img, #messages script, #messages b").count()).toBe(0);
  });

  it("sends with wschat.send from the console, as in the seed", async () => {
    const lucy = await open("Lucy", "console");
    const bob = await open("Bob", "console");
    await lucy.evaluate(() => (window as unknown as { wschat: WebSocket }).wschat.send("hello from the console"));
    await expect.poll(() => texts(bob, "other")).toContain("hello from the console");
    const state = await lucy.evaluate(() => (window as unknown as { wschat: WebSocket }).wschat.readyState);
    expect(state).toBe(1);
    // The token travels as a subprotocol, never in the URL (and so never in access logs).
    const url = await lucy.evaluate(() => (window as unknown as { wschat: WebSocket }).wschat.url);
    expect(url).toContain("channel=console");
    expect(url).not.toContain("token");
  });

  it("updates presence when people join and leave", async () => {
    const lucy = await open("Lucy", "presence");
    await expect.poll(() => presence(lucy)).toEqual(["Lucy"]);
    const bob = await open("Bob", "presence");
    await expect.poll(() => presence(lucy)).toEqual(["Bob", "Lucy"]);
    await expect.poll(() => presence(bob)).toEqual(["Bob", "Lucy"]);
    await bob.context().close();
    await expect.poll(() => presence(lucy)).toEqual(["Lucy"]);
    await expect.poll(() => texts(lucy, "system")).toContain("Bob disconnected");
  });

  it("reconnects by itself after the server drops the connection, keeps the same wschat and keeps working", async () => {
    const lucy = await open("Lucy", "reconnect");
    const bob = await open("Bob", "reconnect");
    await say(lucy, "before");
    await expect.poll(() => texts(bob, "other")).toContain("before");
    await lucy.evaluate(() => {
      (window as unknown as { firstHandle: unknown }).firstHandle = (window as unknown as { wschat: unknown }).wschat;
    });
    const management = new ApiGatewayManagementApiClient({
      endpoint: stack.managementEndpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    const lucyIds = (await storedConnections(stack)).filter(
      (item) => item.channel === "reconnect" && item.username === "Lucy",
    );
    expect(lucyIds).toHaveLength(1);
    await management.send(new DeleteConnectionCommand({ ConnectionId: String(lucyIds[0]?.connectionId) }));
    management.destroy();
    await eventually(
      async () =>
        (await storedConnections(stack)).some(
          (item) =>
            item.channel === "reconnect" && item.username === "Lucy" && item.connectionId !== lucyIds[0]?.connectionId,
        ),
      10_000,
    );
    await lucy.locator('#connection-status[data-state="online"]').waitFor();
    expect(
      await lucy.evaluate(() => {
        const w = window as unknown as { firstHandle: unknown; wschat: unknown };
        return w.firstHandle === w.wschat;
      }),
    ).toBe(true);
    await say(lucy, "after");
    await expect.poll(() => texts(bob, "other")).toContain("after");
    await expect.poll(() => texts(lucy, "own")).toContain("after");
    // History merged by id: the message from before the drop is shown once.
    expect((await texts(lucy, "own")).filter((text) => text === "before")).toHaveLength(1);
  });

  it("keeps the typed text when the server refuses a message and shows the error", async () => {
    const flood = await open("Flood", "limits");
    // The 20 and the one too many must fall in one rate window, which are aligned to the clock.
    await roomInRateWindow();
    for (let i = 1; i <= 20; i++)
      await flood.evaluate((n) => (window as unknown as { wschat: WebSocket }).wschat.send(`burst ${n}`), i);
    await expect.poll(async () => (await texts(flood, "own")).length).toBe(20);
    await say(flood, "one too many");
    await flood.locator('#notice[data-code="rate_limited"]').waitFor();
    expect(await flood.locator("#message-input").inputValue()).toBe("one too many");
  });

  it("is usable at phone width", async () => {
    const phone = await open("Pia", "support", { width: 390, height: 844 });
    await say(phone, "from my phone");
    await expect.poll(() => texts(phone, "own")).toContain("from my phone");
    const overflow = await phone.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.screenshot({ path: join(SCREENSHOTS, "phone-pia.png") });
  });

  it("raised no page error, CSP violation or dialog", () => {
    expect(pageErrors).toEqual([]);
  });
});
