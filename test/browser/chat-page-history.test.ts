import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connect, roomInRateWindow } from "../integration/harness.ts";
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

/**
 * Uses up `username`'s other requests (PROTOCOL: 20 per rate window, across their connections) as another tab of
 * theirs might, from a plain socket: pings until one is refused. Answers the code of that refusal.
 */
async function useUpRequests(username: string): Promise<string | undefined> {
  await roomInRateWindow();
  const tab = await connect(harness.stack, username, "elsewhere");
  try {
    for (let i = 0; i < 30; i++) {
      tab.send({ action: "ping" });
      const answer = await tab.next((frame) => frame.type === "pong" || frame.type === "error");
      if (answer.type === "error") return answer.code;
    }
    return undefined;
  } finally {
    await tab.close();
  }
}

/** From now on, keeps every notice the page shows and the code of every error frame it gets (read with `seen`). */
async function watch(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen = { notices: [] as string[], refusals: [] as string[] };
    const host = window as unknown as { seen: typeof seen; wschat: EventTarget };
    host.seen = seen;
    const notice = document.getElementById("notice") as HTMLElement;
    new MutationObserver(() => {
      if (!notice.hidden && notice.textContent) seen.notices.push(notice.textContent);
    }).observe(notice, { attributes: true, childList: true, characterData: true, subtree: true });
    host.wschat.addEventListener("message", (event) => {
      const frame = JSON.parse((event as MessageEvent).data);
      if (frame.type === "error") seen.refusals.push(frame.code);
    });
  });
}

const seen = (page: Page) =>
  page.evaluate(() => (window as unknown as { seen: { notices: string[]; refusals: string[] } }).seen);

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

  it("asks again, in the next rate window, for a gap's page the rate refused, until the gap is filled, and blames no one", async () => {
    const page = await harness.open("Patience", "refused-gap", { backoff: "long" });
    await say(page, "before the gap");
    await expect.poll(() => confirmed(page)).toEqual(["before the gap"]);
    await watch(page);
    await harness.drop("Patience", "refused-gap");
    await page.locator('#connection-status[data-state="reconnecting"]').waitFor();
    const missed = await harness.seed("refused-gap", "meanwhile", 70);
    // Another tab used up this window's other requests: the gap's first page (and `who`) are refused.
    expect(await useUpRequests("Patience")).toBe("rate_limited");
    await page.getByRole("button", { name: "Retry now" }).click();
    await online(page);
    await expect.poll(async () => (await seen(page)).refusals).toContain("rate_limited");
    await expect.poll(() => confirmed(page), { timeout: 30_000 }).toEqual(["before the gap", ...missed]);
    const ids = await page
      .locator("#messages > li.msg[data-id]")
      .evaluateAll((items) => items.map((item) => item.getAttribute("data-id")));
    expect(new Set(ids).size).toBe(ids.length);
    // Nobody typed anything: no "sending faster than the chat allows", nor any other notice.
    expect((await seen(page)).notices).toEqual([]);
    expect(await page.locator("#presence-stale").isHidden()).toBe(true);
  });

  it("asks again for an open conversation's gap and the other conversations' checks the rate refused", async () => {
    const lou = await connect(harness.stack, "Lou", "elsewhere");
    const kit = await connect(harness.stack, "Kit", "elsewhere");
    const dm = async (from: typeof lou, message: string) => {
      from.send({ action: "dm", to: "Oona", message });
      await from.next((frame) => frame.type === "dm" && frame.message === message, 10_000, message);
    };
    const page = await harness.open("Oona", "refused-dm", { backoff: "long" });
    const dmTexts = () => page.locator("#dm-messages > li.msg[data-id] .msg-text").allTextContents();
    const unread = () => page.locator('#conversation-list > li[data-with="Kit"]').getAttribute("data-unread");
    await dm(kit, "from Kit");
    await expect.poll(unread).toBe("1");
    await page.locator("#dm-to").fill("Lou");
    await page.locator("#dm-to").press("Enter");
    await dm(lou, "before the gap");
    await expect.poll(dmTexts).toEqual(["before the gap"]);
    await watch(page);
    await harness.drop("Oona", "refused-dm");
    await page.locator('#connection-status[data-state="reconnecting"]').waitFor();
    const missed = ["meanwhile 1", "meanwhile 2", "meanwhile 3"];
    for (const text of missed) await dm(lou, text);
    await dm(kit, "again from Kit");
    await Promise.all([lou.close(), kit.close()]);
    // The conversation's `after` page and Kit's check are refused with the rest of what the page asks on connecting.
    expect(await useUpRequests("Oona")).toBe("rate_limited");
    await page.getByRole("button", { name: "Retry now" }).click();
    await online(page);
    await expect.poll(async () => (await seen(page)).refusals).toContain("rate_limited");
    await expect.poll(dmTexts, { timeout: 30_000 }).toEqual(["before the gap", ...missed]);
    await expect.poll(unread, { timeout: 30_000 }).toBe("2");
    expect((await seen(page)).notices).toEqual([]);
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
