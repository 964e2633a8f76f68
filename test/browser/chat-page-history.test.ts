import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { confirmed, online, PageHarness, SCREENSHOTS, say, texts } from "./page-harness.ts";

// The page in headless Chromium against the local stack: history, navigation and what a message looks like.
const harness = new PageHarness();
beforeAll(() => harness.start(), 60_000);
afterEach(() => harness.closePages());
afterAll(() => harness.stop());

const currentChannel = (page: Page) => page.evaluate(() => new URL(location.href).searchParams.get("channel"));
const whoami = (page: Page) => page.locator("#whoami").textContent();

/** Feeds the page a frame as if the server had sent it (for times the server cannot produce, such as yesterday). */
async function receive(page: Page, frame: object): Promise<void> {
  await page.evaluate((data) => {
    const wschat = (window as unknown as { wschat: EventTarget }).wschat;
    wschat.dispatchEvent(new MessageEvent("message", { data }));
  }, JSON.stringify(frame));
}

describe("the chat page's history and messages", () => {
  it("pushes each channel switch to browser history, so Back and Forward move between channels, each with its draft", async () => {
    const nav = await harness.open("Navi", "nav-a");
    await nav.locator("#message-input").fill("half a thought for a");
    await nav.locator("#channel-input").fill("nav-b");
    await nav.locator("#channel-input").press("Enter");
    await nav.locator("#whoami", { hasText: "#nav-b" }).waitFor();
    await online(nav);
    expect(await currentChannel(nav)).toBe("nav-b");
    expect(await nav.locator("#message-input").inputValue()).toBe("");
    await nav.locator("#message-input").fill("draft for b");

    await nav.goBack();
    await nav.locator("#whoami", { hasText: "#nav-a" }).waitFor();
    await online(nav);
    expect(await currentChannel(nav)).toBe("nav-a");
    expect(await nav.locator("#channel-input").inputValue()).toBe("nav-a");
    expect(await nav.locator("#message-input").inputValue()).toBe("half a thought for a");

    await nav.goForward();
    await nav.locator("#whoami", { hasText: "#nav-b" }).waitFor();
    await online(nav);
    expect(await nav.locator("#message-input").inputValue()).toBe("draft for b");

    // Drafts survive a reload.
    await nav.reload();
    await online(nav);
    expect(await whoami(nav)).toContain("#nav-b");
    expect(await nav.locator("#message-input").inputValue()).toBe("draft for b");
  });

  it("loads older messages with `before` when scrolled to the top, keeping the message read in place", async () => {
    const seeded = await harness.seed("older", "old", 70);
    const reader = await harness.open("Reader", "older");
    // The newest page: 50 of the 70.
    await expect.poll(() => confirmed(reader)).toEqual(seeded.slice(20));
    const log = reader.locator("#log");
    const first = reader.locator("#messages > li.msg[data-id]").first();
    const firstId = await first.getAttribute("data-id");
    // Scrolled and measured in one task, before the scroll event can ask for anything.
    const topBefore = await log.evaluate((node, id) => {
      node.scrollTop = 0;
      return document.querySelector(`li[data-id="${id}"]`)?.getBoundingClientRect().top;
    }, firstId);
    await expect.poll(() => confirmed(reader)).toEqual(seeded);
    const topAfter = await reader
      .locator(`li[data-id="${firstId}"]`)
      .evaluate((node) => node.getBoundingClientRect().top);
    expect(Math.abs(topAfter - (topBefore ?? Number.NaN))).toBeLessThanOrEqual(2);
    expect(await log.evaluate((node) => node.scrollTop)).toBeGreaterThan(0);
  });

  it("fills a gap longer than one history page with `after` pages once reconnected, then sends what was written offline", async () => {
    const gap = await harness.open("Gapper", "gap", { backoff: "long" });
    await say(gap, "before the gap");
    await expect.poll(() => confirmed(gap)).toEqual(["before the gap"]);
    await harness.drop("Gapper", "gap");
    await gap.locator('#connection-status[data-state="reconnecting"]').waitFor();
    const missed = await harness.seed("gap", "missed", 70);
    // Written while offline: it waits in the log, and goes once the gap is filled, after what was said meanwhile.
    await say(gap, "written offline");
    await gap.locator('#messages > li.msg-outgoing[data-state="queued"]', { hasText: "written offline" }).waitFor();
    expect(await gap.locator("#message-input").inputValue()).toBe("");
    await gap.getByRole("button", { name: "Retry now" }).click();
    await online(gap);
    await expect
      .poll(() => confirmed(gap), { timeout: 10_000 })
      .toEqual(["before the gap", ...missed, "written offline"]);
    expect(await gap.locator("#messages > li.msg-outgoing").count()).toBe(0);
  });

  it("turns http(s) URLs into links that open safely, and nothing else into a link", async () => {
    const writer = await harness.open("Writer", "links");
    const reader = await harness.open("Linda", "links");
    const text =
      "see https://example.com/a?b=1&c=2, or (http://example.org/path). not javascript:alert(1) " +
      "nor data:text/html,<b>x</b> nor www.example.net nor ftp://example.com/file";
    await say(writer, text);
    await expect.poll(() => texts(reader, "other")).toContain(text);
    const links = reader.locator("#messages .msg-text a");
    expect(await links.count()).toBe(2);
    const attributes = await links.evaluateAll((nodes) =>
      nodes.map((node) => [
        node.getAttribute("href"),
        node.getAttribute("target"),
        node.getAttribute("rel"),
        node.textContent,
      ]),
    );
    expect(attributes).toEqual([
      ["https://example.com/a?b=1&c=2", "_blank", "noopener noreferrer", "https://example.com/a?b=1&c=2"],
      ["http://example.org/path", "_blank", "noopener noreferrer", "http://example.org/path"],
    ]);
    expect(await reader.locator("#messages b").count()).toBe(0);
  });

  it("puts a divider before each day's messages", async () => {
    const page = await harness.open("Dora", "days");
    const day = 24 * 3_600_000;
    const now = Date.now();
    const message = (id: string, timestamp: number) => ({
      type: "message",
      id,
      from: "Someone",
      message: `said ${id}`,
      channel: "days",
      timestamp,
    });
    await receive(page, message("today", now));
    await receive(page, message("two-days-ago", now - 2 * day));
    await receive(page, message("yesterday", now - day));
    const entries = await page
      .locator("#messages > li")
      .evaluateAll((items) =>
        items.map((item) =>
          item.classList.contains("day-divider") ? `-- ${item.textContent}` : item.getAttribute("data-id"),
        ),
      );
    const twoDaysAgo = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" }).format(
      now - 2 * day,
    );
    expect(entries).toEqual([`-- ${twoDaysAgo}`, "two-days-ago", "-- Yesterday", "yesterday", "-- Today", "today"]);
  });

  it("shows a new-messages marker when scrolled up, and going there takes it away", async () => {
    await harness.seed("marker", "earlier", 30);
    const reader = await harness.open("Mark", "marker");
    const writer = await harness.open("Wendy", "marker");
    await expect.poll(async () => (await confirmed(reader)).length).toBe(30);
    const log = reader.locator("#log");
    await log.evaluate((node) => {
      node.scrollTop = 0;
    });
    await say(writer, "while you were reading");
    const marker = reader.locator("#new-messages");
    await marker.waitFor();
    expect(await marker.textContent()).toBe("1 new message ↓");
    expect(await log.evaluate((node) => node.scrollTop)).toBe(0);
    await reader.screenshot({ path: join(SCREENSHOTS, "desktop-new-messages.png") });
    await marker.click();
    await marker.waitFor({ state: "hidden" });
    expect(await log.evaluate((node) => node.scrollHeight - node.scrollTop - node.clientHeight)).toBeLessThan(2);
  });

  it("counts messages that arrive while the tab is hidden in the title, and clears the count when it is shown", async () => {
    const reader = await harness.open("Hidden", "unread");
    const writer = await harness.open("Wanda", "unread");
    const setHidden = (hidden: boolean) =>
      reader.evaluate((value) => {
        Object.defineProperty(document, "hidden", { configurable: true, get: () => value });
        document.dispatchEvent(new Event("visibilitychange"));
      }, hidden);
    expect(await reader.title()).toBe("#unread · Channel chat");
    await setHidden(true);
    await say(writer, "one");
    await say(writer, "two");
    await expect.poll(() => reader.title()).toBe("(2) #unread · Channel chat");
    await setHidden(false);
    expect(await reader.title()).toBe("#unread · Channel chat");
  });

  it("leaves, or changes name, from the chat view", async () => {
    const page = await harness.open("Before", "rename");
    await page.getByRole("button", { name: "Change name" }).click();
    await page.locator("#join").waitFor();
    expect(await page.locator("#join-username").inputValue()).toBe("Before");
    expect(await page.locator("#join-channel").inputValue()).toBe("rename");
    await page.locator("#join-username").fill("After");
    await page.locator("#join-username").press("Enter");
    await online(page);
    expect(await whoami(page)).toBe("#rename as After");
    await say(page, "new name");
    await expect
      .poll(() => page.locator('#messages > li.msg[data-id][data-from="After"] .msg-text').allTextContents())
      .toEqual(["new name"]);

    await page.getByRole("button", { name: "Leave" }).click();
    await page.locator("#join").waitFor();
    expect(await page.locator("#chat").isHidden()).toBe(true);
    expect(await page.locator("#join-username").inputValue()).toBe("");
    expect(await page.evaluate(() => new URL(location.href).searchParams.has("username"))).toBe(false);
    expect(await page.locator("#connection-status").getAttribute("data-state")).toBe("offline");
  });

  it("raised no page error, CSP violation or dialog", () => {
    expect(harness.pageErrors).toEqual([]);
  });
});
