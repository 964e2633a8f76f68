import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { roomInRateWindow } from "../integration/harness.ts";
import {
  confirmed,
  eventually,
  online,
  PageHarness,
  PHONE,
  presence,
  SCREENSHOTS,
  say,
  texts,
} from "./page-harness.ts";

// The page in headless Chromium against the local stack: chatting, sending, presence and the connection.
const harness = new PageHarness();
beforeAll(() => harness.start(), 60_000);
afterEach(() => harness.closePages());
afterAll(() => harness.stop());

describe("the chat page", () => {
  it("lets two users chat in one channel while a third in another channel sees nothing", async () => {
    const lucy = await harness.open("Lucy", "support");
    const bob = await harness.open("Bob", "support");
    const eve = await harness.open("Eve", "sales");
    await say(lucy, "hello Bob");
    await expect.poll(() => texts(bob, "other")).toContain("hello Bob");
    await expect.poll(() => confirmed(lucy)).toContain("hello Bob");
    expect(await lucy.locator("#message-input").inputValue()).toBe("");
    await say(bob, "hi Lucy");
    await expect.poll(() => texts(lucy, "other")).toContain("hi Lucy");
    expect(await bob.locator('#messages > li.msg[data-kind="other"]').first().getAttribute("data-from")).toBe("Lucy");
    await expect.poll(() => texts(lucy, "system")).toContain("Bob connected");
    expect(await texts(eve)).not.toContain("hello Bob");
    expect(await texts(eve)).not.toContain("hi Lucy");
    await lucy.screenshot({ path: join(SCREENSHOTS, "desktop-lucy.png") });
  });

  it("shows an HTML and script payload as literal text and runs nothing", async () => {
    const mallory = await harness.open("Mallory", "xss");
    const victim = await harness.open("Victim", "xss");
    const payload = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold</b>`;
    await say(mallory, payload);
    await expect.poll(() => texts(victim, "other")).toContain(payload);
    expect(await victim.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await victim.locator("#messages img, #messages script, #messages b").count()).toBe(0);
  });

  it("sends with wschat.send from the console, as in the seed", async () => {
    const lucy = await harness.open("Lucy", "console");
    const bob = await harness.open("Bob", "console");
    await lucy.evaluate(() => (window as unknown as { wschat: WebSocket }).wschat.send("hello from the console"));
    await expect.poll(() => texts(bob, "other")).toContain("hello from the console");
    const state = await lucy.evaluate(() => (window as unknown as { wschat: WebSocket }).wschat.readyState);
    expect(state).toBe(1);
    // The token travels as a subprotocol, never in the URL (and so never in access logs).
    const url = await lucy.evaluate(() => (window as unknown as { wschat: WebSocket }).wschat.url);
    expect(url).toContain("channel=console");
    expect(url).not.toContain("token");
  });

  it("sends ten messages typed with no delay between keys each exactly once, in order, none merged", async () => {
    const quick = await harness.open("Quick", "typing");
    const reader = await harness.open("Reader", "typing");
    const sent = Array.from({ length: 10 }, (_, i) => `fast message ${i + 1}`);
    await quick.locator("#message-input").focus();
    for (const text of sent) {
      await quick.keyboard.type(text, { delay: 0 });
      await quick.keyboard.press("Enter");
    }
    // The box is cleared on Enter, not on the echo: nothing typed meanwhile is lost or sent twice.
    expect(await quick.locator("#message-input").inputValue()).toBe("");
    await expect.poll(() => texts(reader, "other")).toEqual(sent);
    await expect.poll(() => confirmed(quick)).toEqual(sent);
    expect(await quick.locator("#messages > li.msg-outgoing").count()).toBe(0);
  });

  it("puts a refused message back into an empty box, and keeps one refused while typing on as a failed entry with Retry", async () => {
    const flood = await harness.open("Flood", "limits");
    // The 20 and the ones too many must fall in one rate window, which are aligned to the clock.
    await roomInRateWindow();
    for (let i = 1; i <= 20; i++)
      await flood.evaluate((n) => (window as unknown as { wschat: WebSocket }).wschat.send(`burst ${n}`), i);
    await expect.poll(async () => (await texts(flood, "own")).length).toBe(20);
    await say(flood, "one too many");
    const notice = flood.locator('#notice[data-code="rate_limited"]');
    await notice.waitFor();
    expect(await notice.textContent()).toMatch(/^You are sending faster than the chat allows\./);
    expect(await flood.locator("#message-input").inputValue()).toBe("one too many");
    expect(await flood.locator("#messages > li.msg-outgoing").count()).toBe(0);

    // Sent, then typing on at once (in one task, so the refusal cannot come in between): the box is not empty.
    await flood.evaluate(() => {
      const input = document.getElementById("message-input") as HTMLTextAreaElement;
      input.value = "refused while typing";
      input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
      input.value = "typing on";
      input.dispatchEvent(new Event("input"));
    });
    const failed = flood.locator('#messages > li.msg-outgoing[data-state="failed"]');
    await failed.waitFor();
    expect(await failed.locator(".msg-text").textContent()).toBe("refused while typing");
    expect(await flood.locator("#message-input").inputValue()).toBe("typing on");
    expect(await harness.seriousViolations(flood)).toEqual([]);
    await flood.screenshot({ path: join(SCREENSHOTS, "desktop-failed.png") });

    // Next rate window: Retry sends it, and it is shown once.
    await new Promise((resolve) => setTimeout(resolve, 10_000 - (Date.now() % 10_000) + 50));
    await failed.getByRole("button", { name: "Retry" }).click();
    await expect.poll(() => confirmed(flood)).toContain("refused while typing");
    expect((await texts(flood)).filter((text) => text === "refused while typing")).toHaveLength(1);
    expect(await flood.locator("#messages > li.msg-outgoing").count()).toBe(0);
  });

  it("updates presence when people join and leave", async () => {
    const lucy = await harness.open("Lucy", "presence");
    await expect.poll(() => presence(lucy)).toEqual(["Lucy"]);
    const bob = await harness.open("Bob", "presence");
    await expect.poll(() => presence(lucy)).toEqual(["Bob", "Lucy"]);
    await expect.poll(() => presence(bob)).toEqual(["Bob", "Lucy"]);
    await bob.context().close();
    await expect.poll(() => presence(lucy)).toEqual(["Lucy"]);
    await expect.poll(() => texts(lucy, "system")).toContain("Bob disconnected");
  });

  it("lists a user with two tabs once, and closing one tab changes nothing for the others", async () => {
    const samA = await harness.open("Sam", "two-tabs");
    const samB = await harness.open("Sam", "two-tabs");
    const tia = await harness.open("Tia", "two-tabs");
    await expect.poll(() => presence(tia)).toEqual(["Sam", "Tia"]);
    await samA.context().close();
    await eventually(async () => (await harness.connectionsOf("Sam", "two-tabs")) === 1);
    // Sam's other tab speaks after the close has been handled: anything the close caused reached Tia before this.
    await say(samB, "still here");
    await expect.poll(() => texts(tia, "other")).toContain("still here");
    expect(await presence(tia)).toEqual(["Sam", "Tia"]);
    expect(await texts(tia, "system")).not.toContain("Sam disconnected");
  });

  it("reconnects by itself after the server drops the connection, keeps the same wschat and keeps working", async () => {
    const lucy = await harness.open("Lucy", "reconnect");
    const bob = await harness.open("Bob", "reconnect");
    await say(lucy, "before");
    await expect.poll(() => texts(bob, "other")).toContain("before");
    await lucy.evaluate(() => {
      (window as unknown as { firstHandle: unknown }).firstHandle = (window as unknown as { wschat: unknown }).wschat;
    });
    await harness.drop("Lucy", "reconnect");
    await lucy.locator('#connection-status:not([data-state="online"])').waitFor();
    await online(lucy);
    expect(
      await lucy.evaluate(() => {
        const w = window as unknown as { firstHandle: unknown; wschat: unknown };
        return w.firstHandle === w.wschat;
      }),
    ).toBe(true);
    await say(lucy, "after");
    await expect.poll(() => texts(bob, "other")).toContain("after");
    await expect.poll(() => confirmed(lucy)).toContain("after");
    // History merged by id: the message from before the drop is shown once.
    expect((await texts(lucy, "own")).filter((text) => text === "before")).toHaveLength(1);
  });

  it("while offline marks presence as not current and offers Retry now, which reconnects at once", async () => {
    const olive = await harness.open("Olive", "offline", { backoff: "long" });
    await harness.open("Otto", "offline");
    await expect.poll(() => presence(olive)).toEqual(["Olive", "Otto"]);
    await harness.drop("Olive", "offline");
    await olive.locator('#connection-status[data-state="reconnecting"]').waitFor();
    const panel = olive.locator("#presence");
    expect(await panel.getAttribute("data-stale")).toBe("true");
    expect(await olive.locator("#presence-stale").isVisible()).toBe(true);
    expect(await olive.locator("#presence-summary").textContent()).toBe("Last seen online (2)");
    // No green dot: the dot of a user in a list not current is hollow.
    const dot = await olive
      .locator("#presence-list > li[data-user]")
      .first()
      .evaluate((item) => getComputedStyle(item, "::before").backgroundColor);
    expect(dot).toBe("rgba(0, 0, 0, 0)");
    expect(await harness.seriousViolations(olive)).toEqual([]);
    await olive.screenshot({ path: join(SCREENSHOTS, "desktop-offline.png") });
    await olive.setViewportSize(PHONE);
    await olive.screenshot({ path: join(SCREENSHOTS, "phone-offline.png") });
    const retry = olive.getByRole("button", { name: "Retry now" });
    await retry.click();
    await online(olive);
    expect(await retry.isVisible()).toBe(false);
    expect(await panel.getAttribute("data-stale")).toBeNull();
    await expect.poll(() => presence(olive)).toEqual(["Olive", "Otto"]);
  });

  it("is usable at phone width", async () => {
    const phone = await harness.open("Pia", "support", { viewport: PHONE });
    await say(phone, "from my phone");
    await expect.poll(() => confirmed(phone)).toContain("from my phone");
    const overflow = await phone.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.screenshot({ path: join(SCREENSHOTS, "phone-pia.png") });
  });

  it("raised no page error, CSP violation or dialog", () => {
    expect(harness.pageErrors).toEqual([]);
  });
});
