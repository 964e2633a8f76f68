import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { confirmed, online, PageHarness, PHONE, presence, SCREENSHOTS, say } from "./page-harness.ts";

// The page in headless Chromium against the local stack: its words, axe-core's checks and a keyboard-only run.
const harness = new PageHarness();
beforeAll(() => harness.start(), 60_000);
afterEach(() => harness.closePages());
afterAll(() => harness.stop());

/** Presses Tab until `selector` has the focus (at most `max` times); fails if it never does. */
async function tabTo(page: Page, selector: string, max = 40): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`Tab never reached ${selector}`);
}

const hint = (page: Page, field: "username" | "channel") => page.locator(`#join-${field}-hint`);
/** A field's hint as read, with no-break spaces as spaces. */
const hintText = async (page: Page, field: "username" | "channel") =>
  (await hint(page, field).textContent())?.replaceAll("\u00a0", " ");

describe("the chat page for people", () => {
  it("shows each field's rule before it is broken, explains problems in sentences as typed, and never cuts a long channel name", async () => {
    const page = await harness.open(undefined);
    expect(await hintText(page, "username")).toBe("Up to 32 characters. Use letters, digits, spaces, _ . or -");
    expect(await hintText(page, "channel")).toBe("Up to 64 characters. Use A–Z, a–z, digits, _ or -");

    await page.locator("#join-username").fill("Lu<cy>");
    expect(await hintText(page, "username")).toBe(
      "A name cannot contain “<”, “>”. Use letters, digits, spaces, _ . or -",
    );
    expect(await page.locator("#join-username").getAttribute("aria-invalid")).toBe("true");
    await page.locator("#join-username").fill("Lucy");
    expect(await hintText(page, "username")).toBe("Up to 32 characters. Use letters, digits, spaces, _ . or -");
    expect(await page.locator("#join-username").getAttribute("aria-invalid")).toBeNull();

    const long = "c".repeat(70);
    await page.locator("#join-channel").fill(long);
    expect(await page.locator("#join-channel").inputValue()).toBe(long);
    expect(await hintText(page, "channel")).toBe(
      "That channel name has 70 characters; a channel name can have at most 64.",
    );
    await page.locator("#join-submit").click();
    expect(await page.locator("#join").isVisible()).toBe(true);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("join-channel");
    await page.locator("#join-channel").fill("words");
    expect(await hintText(page, "channel")).toBe("Up to 64 characters. Use A–Z, a–z, digits, _ or -");
    await page.locator("#join-submit").click();
    await online(page);

    // The header's channel field says the same, and the notice goes once the name is fixed.
    await page.locator("#channel-input").fill(long);
    const notice = page.locator("#notice");
    await notice.waitFor();
    expect(await notice.textContent()).toBe("That channel name has 70 characters; a channel name can have at most 64.");
    await page.locator("#channel-input").fill("words-2");
    await notice.waitFor({ state: "hidden" });

    // A draft over the limit says so, and the notice goes once it is short enough.
    await page.locator("#message-input").fill("x".repeat(4_001));
    await notice.waitFor();
    expect(await notice.textContent()).toBe("That message is too long: a message can have at most 4,000 characters.");
    await page.locator("#message-input").press("Backspace");
    await notice.waitFor({ state: "hidden" });
  });

  it("has no serious or critical axe-core violation on the join form and the chat view, light and dark", async () => {
    // Each view is checked in both colour schemes: contrast differs between them.
    const bothSchemes = async (page: Page, name: string) => {
      for (const colorScheme of ["light", "dark"] as const) {
        await page.emulateMedia({ colorScheme });
        expect(await harness.seriousViolations(page), `${name}, ${colorScheme}`).toEqual([]);
        await page.screenshot({ path: join_(`${name}-${colorScheme}.png`) });
      }
    };
    const join = await harness.open(undefined);
    await bothSchemes(join, "join");
    await join.locator("#join-username").fill("Lu<cy>");
    await join.locator("#join-submit").click();
    await bothSchemes(join, "join-problem");

    const chat = await harness.open("Axel", "axe");
    await harness.open("Ada", "axe");
    await say(chat, "see https://example.com for the rules");
    await expect.poll(() => confirmed(chat)).toContain("see https://example.com for the rules");
    await bothSchemes(chat, "desktop");
  });

  it("can be used with the keyboard alone: join, send, switch channel, read presence", async () => {
    const page = await harness.open(undefined, undefined, { viewport: PHONE, colorScheme: "dark" });
    // The join form focuses the username.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("join-username");
    await page.keyboard.type("Keya");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("join-channel");
    await page.keyboard.type("keys");
    await page.keyboard.press("Enter");
    await online(page);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("message-input");
    await page.keyboard.type("typed without a mouse");
    await page.keyboard.press("Enter");
    await expect.poll(() => confirmed(page)).toEqual(["typed without a mouse"]);

    await tabTo(page, "#channel-input");
    await page.keyboard.type("keys-2");
    await page.keyboard.press("Enter");
    await page.locator("#whoami", { hasText: "#keys-2" }).waitFor();
    await online(page);
    await expect.poll(() => presence(page)).toEqual(["Keya"]);

    // On a phone the list is folded: its summary is reached by Tab and opened with Enter.
    await tabTo(page, "#presence-summary");
    await page.keyboard.press("Enter");
    await page.locator("#presence-list").waitFor();
    expect(await page.locator("#presence").ariaSnapshot()).toContain('list "People online"');
    expect(await page.locator("#presence").ariaSnapshot()).toContain("listitem: Keya (you)");
    await page.screenshot({ path: join_("phone-dark-keyboard.png") });
  });

  it("raised no page error, CSP violation or dialog", () => {
    expect(harness.pageErrors).toEqual([]);
  });
});

function join_(name: string): string {
  return join(SCREENSHOTS, name);
}
