import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connect, roomInRateWindow } from "../integration/harness.ts";
import { eventually, online, PageHarness, PHONE, presence, SCREENSHOTS, texts } from "./page-harness.ts";

// Direct messages and private channels in headless Chromium against the local stack, both sides real pages.
const harness = new PageHarness();
beforeAll(() => harness.start(), 60_000);
afterEach(() => harness.closePages());
afterAll(() => harness.stop());

/** The confirmed messages of the conversation shown. */
const dmTexts = (page: Page) => page.locator("#dm-messages > li.msg[data-id] .msg-text").allTextContents();
/** The unread count the list shows for the conversation with `peer` (`null` when it is not listed). */
const unread = (page: Page, peer: string) =>
  page.locator(`#conversation-list > li[data-with="${peer}"]`).getAttribute("data-unread", { timeout: 10_000 });
/** The conversations listed, in order. */
const conversations = (page: Page) =>
  page
    .locator("#conversation-list > li")
    .evaluateAll((items) =>
      items.map((item) => `${item.getAttribute("data-with")}:${item.getAttribute("data-unread")}`),
    );

/** Opens the conversation with `peer` through "Message someone". */
async function messageSomeone(page: Page, peer: string): Promise<void> {
  await page.locator("#dm-to").fill(peer);
  await page.locator("#dm-to").press("Enter");
  await page.locator("#direct-heading", { hasText: peer }).waitFor();
}

/** Types a direct message in the conversation shown and presses Enter. */
async function sayDm(page: Page, text: string): Promise<void> {
  await page.locator("#dm-input").fill(text);
  await page.locator("#dm-input").press("Enter");
}

/** axe-core's serious and critical findings in both colour schemes, with a screenshot of each. */
async function checkAndShoot(page: Page, name: string): Promise<void> {
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    expect(await harness.seriousViolations(page), `${name}, ${colorScheme}`).toEqual([]);
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${colorScheme}.png`) });
  }
}

describe("direct messages on the chat page", () => {
  it("lets two people in different channels write to each other, counting unread messages until the conversation is opened", async () => {
    const lucy = await harness.open("Lucy", "dm-lobby");
    const bob = await harness.open("Bob", "dm-desk");
    await messageSomeone(lucy, "Bob");
    await sayDm(lucy, "hi Bob");
    await expect.poll(() => dmTexts(lucy)).toEqual(["hi Bob"]);
    await sayDm(lucy, "are you there?");
    await expect.poll(() => dmTexts(lucy)).toEqual(["hi Bob", "are you there?"]);

    // Bob is reading his channel: the conversation appears with its count, in the list and the title, not in his log.
    await expect.poll(() => unread(bob, "Lucy")).toBe("2");
    expect(await bob.title()).toBe("(2) #dm-desk · Channel chat");
    expect(await texts(bob)).not.toContain("hi Bob");
    // A third person writes from a plain socket: the newest activity comes first.
    const carol = await connect(harness.stack, "Carol", "elsewhere");
    carol.send({ action: "dm", to: "Bob", message: "lunch at noon?" });
    await expect.poll(() => conversations(bob)).toEqual(["Carol:1", "Lucy:2"]);
    expect(await bob.title()).toBe("(3) #dm-desk · Channel chat");

    // Opening the conversation shows it and clears its count only.
    await bob.locator('#conversation-list > li[data-with="Lucy"] button').click();
    await expect.poll(() => dmTexts(bob)).toEqual(["hi Bob", "are you there?"]);
    expect(await unread(bob, "Lucy")).toBe("0");
    expect(await bob.title()).toBe("(1) Lucy · Direct messages · Channel chat");
    expect(await bob.locator('#conversation-list button[aria-current="true"]').textContent()).toBe("Lucy");
    await sayDm(bob, "here, in #dm-desk");
    // Lucy has the conversation open: it arrives there, unread nowhere.
    await expect.poll(() => dmTexts(lucy)).toEqual(["hi Bob", "are you there?", "here, in #dm-desk"]);
    expect(await unread(lucy, "Bob")).toBe("0");
    expect(await lucy.locator('#dm-messages > li[data-kind="other"]').getAttribute("data-from")).toBe("Bob");
    await checkAndShoot(bob, "dm-conversation");

    // Back in her channel, Lucy gets the next one as unread.
    await lucy.locator("#direct-back").click();
    await lucy.locator("#direct").waitFor({ state: "hidden" });
    await sayDm(bob, "see you");
    await expect.poll(() => unread(lucy, "Bob")).toBe("1");
    expect(await lucy.title()).toBe("(1) #dm-lobby · Channel chat");
    await carol.close();
  });

  it("starts a conversation from the presence list, and refuses one with oneself", async () => {
    const ann = await harness.open("Ann", "dm-room");
    await harness.open("Ben", "dm-room");
    await expect.poll(() => presence(ann)).toEqual(["Ann", "Ben"]);
    expect(await ann.locator('#presence-list > li[data-user="Ann"] button').count()).toBe(0);
    await ann.getByRole("button", { name: "Message Ben" }).click();
    await ann.locator("#direct-heading", { hasText: "Ben" }).waitFor();
    expect(await ann.evaluate(() => document.activeElement?.id)).toBe("dm-input");

    await ann.locator("#dm-to").fill("Ann");
    await ann.locator("#dm-to").press("Enter");
    expect(await ann.locator("#dm-to-hint").textContent()).toBe("That is you: direct messages go to someone else.");
    expect(await ann.locator("#dm-to").getAttribute("aria-invalid")).toBe("true");
    expect(await ann.locator("#direct-heading").textContent()).toBe("Direct messages with Ben");

    await sayDm(ann, "from a phone");
    await expect.poll(() => dmTexts(ann)).toEqual(["from a phone"]);
    // Escape goes back to the channel, and the list reopens the conversation.
    await ann.locator("#dm-input").press("Escape");
    await ann.locator("#direct").waitFor({ state: "hidden" });
    expect(await ann.evaluate(() => document.activeElement?.id)).toBe("message-input");
    await ann.locator('#conversation-list > li[data-with="Ben"] button').press("Enter");
    await expect.poll(() => dmTexts(ann)).toEqual(["from a phone"]);
    await ann.setViewportSize(PHONE);
    await checkAndShoot(ann, "dm-phone");
  });

  it("puts a direct message the chat refuses back into its box, leaving the channel's messages alone", async () => {
    const flo = await harness.open("Flo", "dm-limits");
    await messageSomeone(flo, "Rae");
    // A dm is a chat message in the rate: the 20 and the one too many must fall in one window (aligned to the clock).
    await roomInRateWindow();
    for (let i = 1; i <= 20; i++)
      await flo.evaluate((n) => (window as unknown as { wschat: WebSocket }).wschat.send(`burst ${n}`), i);
    await expect.poll(async () => (await texts(flo, "own")).length).toBe(20);
    await sayDm(flo, "one too many");
    const notice = flo.locator('#notice[data-code="rate_limited"]');
    await notice.waitFor();
    expect(await notice.textContent()).toBe(
      "You are sending faster than the chat allows. Your message is back in the box: send it again in a few seconds.",
    );
    expect(await flo.locator("#dm-input").inputValue()).toBe("one too many");
    expect(await flo.locator("#dm-messages > li").count()).toBe(0);
    expect(await flo.locator("#messages > li.msg-outgoing").count()).toBe(0);
  });

  it("loads older messages of a conversation with `history` `with` `before` when scrolled to the top", async () => {
    // Long messages of escaped characters: a page holds fewer of them (it must fit 128 KiB), so a few make two pages.
    await roomInRateWindow();
    const pax = await connect(harness.stack, "Pax", "elsewhere");
    const sent = Array.from({ length: 19 }, (_, i) => `long ${i + 1}`);
    for (const label of sent) {
      pax.send({ action: "dm", to: "Quinn", message: `${label}${"\n".repeat(3_900)}${label}` });
      await pax.next((frame) => frame.type === "dm" && frame.message.startsWith(`${label}\n`), 10_000, label);
    }
    await pax.close();
    const firstLines = async (page: Page) => (await dmTexts(page)).map((text) => text.split("\n")[0]);

    const quinn = await harness.open("Quinn", "dm-pages");
    await messageSomeone(quinn, "Pax");
    await expect.poll(async () => (await firstLines(quinn)).at(-1)).toBe("long 19");
    const firstPage = await firstLines(quinn);
    expect(firstPage.length).toBeLessThan(19);
    await quinn.locator("#dm-log").evaluate((node) => {
      node.scrollTop = 0;
    });
    await expect.poll(() => firstLines(quinn)).toEqual(sent);
  });

  it("shows a message sent while the reader was away once they come, remembers conversations across a reload, and fills a gap after a reconnect", async () => {
    const lucy = await harness.open("Lucia", "dm-away");
    // Otto has never been here: the message waits for him on the server.
    await messageSomeone(lucy, "Otto");
    await sayDm(lucy, "left for you");
    await expect.poll(() => dmTexts(lucy)).toEqual(["left for you"]);

    const otto = await harness.open("Otto", "dm-home", { backoff: "long" });
    await messageSomeone(otto, "Lucia");
    await expect.poll(() => dmTexts(otto)).toEqual(["left for you"]);

    // Away (tab closed), then back: the list comes from this browser's storage, the count and text from the server.
    await otto.close();
    await eventually(async () => (await harness.connectionsOf("Otto", "dm-home")) === 0);
    await sayDm(lucy, "while you were away");
    await expect.poll(() => dmTexts(lucy)).toEqual(["left for you", "while you were away"]);
    const back = await harness.open("Otto", "dm-home", { backoff: "long", sameContextAs: otto });
    await expect.poll(() => unread(back, "Lucia")).toBe("1");
    const stored = await back.evaluate(() => localStorage.getItem("chat.conversations.Otto") ?? "");
    expect(stored).toContain("Lucia");
    expect(stored).not.toContain("left for you");
    await back.locator('#conversation-list > li[data-with="Lucia"] button').click();
    await expect.poll(() => dmTexts(back)).toEqual(["left for you", "while you were away"]);

    // Dropped while the conversation is open: what came meanwhile arrives in `after` pages once back.
    await harness.drop("Otto", "dm-home");
    await back.locator('#connection-status[data-state="reconnecting"]').waitFor();
    await sayDm(lucy, "during the gap");
    await expect.poll(() => dmTexts(lucy)).toContain("during the gap");
    await back.getByRole("button", { name: "Retry now" }).click();
    await online(back);
    await expect.poll(() => dmTexts(back)).toEqual(["left for you", "while you were away", "during the gap"]);
  });
});

describe("private channels on the chat page", () => {
  it("refuses a non-member with a sentence, lets the owner invite and remove members, and tells the removed member", async () => {
    const ann = await harness.open("Anna", "private-x");
    await ann.locator("#members").waitFor();
    const bob = await harness.open("Bobby", "private-x", { waitOnline: false });
    const access = bob.locator("#access-text");
    await expect
      .poll(() => access.textContent())
      .toBe("You are not a member of private-x; ask its owner to invite you.");
    await bob.locator('#connection-status[data-state="offline"]').waitFor();
    expect(await access.isVisible()).toBe(true);
    expect(await bob.locator("#members").isHidden()).toBe(true);
    expect(await harness.seriousViolations(bob)).toEqual([]);
    await bob.screenshot({ path: join(SCREENSHOTS, "private-refused.png") });

    // The owner invites Bobby from her page; the channel is told.
    await ann.locator("#member-name").fill("Bobby");
    await ann.getByRole("button", { name: "Invite" }).click();
    await expect.poll(() => texts(ann, "system")).toContain("Anna added Bobby");
    expect(await ann.locator("#members-hint").textContent()).toBe(
      "You own this channel: you add and remove its members.",
    );
    expect(await ann.locator("#member-name").inputValue()).toBe("");

    await bob.getByRole("button", { name: "Try again" }).click();
    await online(bob);
    expect(await access.isVisible()).toBe(false);
    await expect.poll(() => presence(ann)).toEqual(["Anna", "Bobby"]);

    // Bobby does not know who owns it, so he may try; the server's refusal is said in a sentence.
    await bob.locator("#member-name").fill("Eve");
    await bob.getByRole("button", { name: "Invite" }).click();
    await expect.poll(() => bob.locator("#notice").textContent()).toBe("Only the channel's owner can invite.");
    await bob.locator("#members-form").waitFor({ state: "hidden" });
    expect(await bob.locator("#members-hint").textContent()).toBe("Only its owner adds and removes members.");

    await checkAndShoot(ann, "private-owner");

    // Removed from the presence list: the channel is told, and Bobby's page says why it is closed.
    await ann.getByRole("button", { name: "Remove Bobby from private-x" }).click();
    await expect.poll(() => texts(ann, "system")).toContain("Anna removed Bobby");
    await expect
      .poll(() => access.textContent())
      .toBe("You were removed from private-x. Ask its owner to invite you again.");
    await bob.locator('#connection-status[data-state="offline"]').waitFor();
    await expect.poll(() => presence(ann)).toEqual(["Anna"]);
  });

  it("raised no page error, CSP violation or dialog", () => {
    expect(harness.pageErrors).toEqual([]);
  });
});
