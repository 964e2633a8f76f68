import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiGatewayManagementApiClient, DeleteConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium, type Page } from "playwright-core";
import { expect } from "vitest";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws.ts";
import type { LocalStack, LocalStackOptions } from "../../local/local-stack.ts";
import { buildWeb } from "../../web/build.ts";
import { connect, eventually, startTestStack, storedConnections } from "../integration/harness.ts";

/** Where the browser tests write their screenshots (an ignored folder). */
export const SCREENSHOTS = join("test-results", "screenshots");

/** Viewports the page is looked at in. */
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

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

/** How a test opens the page. */
export interface OpenOptions {
  readonly viewport?: { width: number; height: number };
  readonly colorScheme?: BrowserContextOptions["colorScheme"];
  /** Reconnect delays: short by default so reconnect tests are quick; `"long"` holds the page in its backoff. */
  readonly backoff?: "short" | "long";
  /** Open another tab in this page's context (same storage) instead of a new context. */
  readonly sameContextAs?: Page;
  /** Wait for the connection to be online (default true when a username is given). */
  readonly waitOnline?: boolean;
}

/** One local stack and one browser shared by the tests of a file. */
export class PageHarness {
  readonly pageErrors: string[] = [];
  #stack: LocalStack | undefined;
  #browser: Browser | undefined;
  #webDir = "";
  #axe: Promise<string> | undefined;
  readonly #contexts = new Set<BrowserContext>();

  /** Builds the page, starts the stack (with `options`, e.g. `{ auth: "oidc" }`) and the browser. */
  async start(options: LocalStackOptions = {}): Promise<void> {
    this.#webDir = await mkdtemp(join(tmpdir(), "chat-web-"));
    await buildWeb(this.#webDir);
    this.#stack = await startTestStack({ ...options, webDir: this.#webDir });
    this.#browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
      args: CHROMIUM_ARGS,
    });
    await mkdir(SCREENSHOTS, { recursive: true });
  }

  /** Closes the pages the last test opened, so the browser does not carry them through the file. */
  async closePages(): Promise<void> {
    const contexts = [...this.#contexts];
    this.#contexts.clear();
    await Promise.all(contexts.map((context) => context.close()));
  }

  async stop(): Promise<void> {
    await this.#browser?.close();
    await this.#stack?.close();
    if (this.#webDir) await rm(this.#webDir, { recursive: true, force: true });
  }

  get stack(): LocalStack {
    if (!this.#stack) throw new Error("the harness has not started");
    return this.#stack;
  }

  get browser(): Browser {
    if (!this.#browser) throw new Error("the harness has not started");
    return this.#browser;
  }

  /**
   * Opens the page as the seed does, `/?username=…&channel=…` (or the join form without a username), in its own
   * browser context (its own tab storage) unless `sameContextAs` is given.
   */
  async open(username: string | undefined, channel?: string, options: OpenOptions = {}): Promise<Page> {
    const context =
      options.sameContextAs?.context() ??
      (await this.browser.newContext({ viewport: options.viewport ?? DESKTOP, colorScheme: options.colorScheme }));
    this.#contexts.add(context);
    const page = await context.newPage();
    const who = username ?? "(join form)";
    page.on("pageerror", (error) => this.pageErrors.push(`${who}: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error" && /Content Security Policy/.test(message.text()))
        this.pageErrors.push(message.text());
    });
    page.on("dialog", (dialog) => {
      this.pageErrors.push(`dialog opened: ${dialog.message()}`);
      void dialog.dismiss();
    });
    if (options.backoff === "long") {
      // Full jitter draws the delay at random: pinned near its top, the page stays in its backoff until told otherwise.
      await page.addInitScript(() => {
        Math.random = () => 0.999;
      });
    }
    const timing =
      options.backoff === "long"
        ? { backoffBaseMs: "60000", backoffMaxMs: "60000" }
        : { backoffBaseMs: "100", backoffMaxMs: "500" };
    const params = new URLSearchParams({
      ...(username === undefined ? {} : { username }),
      ...(channel === undefined ? {} : { channel }),
      ...timing,
    });
    await page.goto(`${this.stack.url}/?${params}`);
    if (options.waitOnline ?? username !== undefined) await online(page);
    return page;
  }

  /** Drops `username`'s connection to `channel` from the server side, as API Gateway's DeleteConnection does. */
  async drop(username: string, channel: string): Promise<void> {
    const ids = (await storedConnections(this.stack)).filter(
      (item) => item.channel === channel && item.username === username,
    );
    expect(ids).toHaveLength(1);
    const management = new ApiGatewayManagementApiClient({
      endpoint: this.stack.managementEndpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      await management.send(new DeleteConnectionCommand({ ConnectionId: String(ids[0]?.connectionId) }));
    } finally {
      management.destroy();
    }
  }

  /** Connections the server holds for `username` in `channel`. */
  async connectionsOf(username: string, channel: string): Promise<number> {
    return (await storedConnections(this.stack)).filter(
      (item) => item.channel === channel && item.username === username,
    ).length;
  }

  /**
   * Stores `count` messages `${prefix} 1` … in `channel`, in that order, from other users over plain sockets (each
   * user sends at most 18, under the per-user rate), and waits until each one is echoed, so stored.
   */
  async seed(channel: string, prefix: string, count: number): Promise<string[]> {
    const texts = Array.from({ length: count }, (_, i) => `${prefix} ${i + 1}`);
    const perUser = 18;
    for (let start = 0; start < count; start += perUser) {
      const sender = await connect(this.stack, `${prefix}-s${start / perUser}`, channel);
      const mine = texts.slice(start, start + perUser);
      for (const text of mine) {
        sender.send({ action: "send", message: text });
        await sender.next((frame) => frame.type === "message" && frame.message === text, 10_000, text);
      }
      await sender.close();
    }
    return texts;
  }

  /** Runs axe-core in `page` and returns its serious and critical violations, each as "rule: target". */
  async seriousViolations(page: Page): Promise<string[]> {
    this.#axe ??= readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
    // Evaluated through the DevTools protocol, which the page's CSP (script-src 'self') does not govern.
    await page.evaluate(await this.#axe);
    const violations = await page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run: (context: Document) => Promise<AxeResults> } }).axe;
      const result = await axe.run(document);
      return result.violations
        .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
        .map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`);
    });
    return violations;
  }
}

interface AxeResults {
  violations: { id: string; impact?: string | null; nodes: { target: string[] }[] }[];
}

/** Waits until the page's connection is online. */
export const online = (page: Page): Promise<void> =>
  page.locator('#connection-status[data-state="online"]').waitFor({ timeout: 10_000 });

/** The text of the log's entries (optionally of one kind). */
export const texts = (page: Page, kind?: string): Promise<string[]> =>
  page.locator(`#messages > li.msg${kind ? `[data-kind="${kind}"]` : ""} .msg-text`).allTextContents();

/** The text of the messages the server has confirmed (with an id), in the log's order. */
export const confirmed = (page: Page): Promise<string[]> =>
  page.locator("#messages > li.msg[data-id] .msg-text").allTextContents();

/** The presence list's users. */
export const presence = (page: Page): Promise<(string | null)[]> =>
  page
    .locator("#presence-list > li[data-user]")
    .evaluateAll((items) => items.map((item) => item.getAttribute("data-user")));

/** Types `text` into the message box and presses Enter. */
export async function say(page: Page, text: string): Promise<void> {
  await page.locator("#message-input").fill(text);
  await page.locator("#message-input").press("Enter");
}

/** Re-exported so test files need one import for waiting on the stack. */
export { eventually };
