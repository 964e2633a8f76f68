import { execFile } from "node:child_process";
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { signSessionToken, tokenKey } from "../../lambda/core/session-token.ts";
import type { LocalStack } from "../../local/local-stack.ts";
import { main, type Output } from "../conformance/cli.ts";
import { handshake } from "../conformance/client.ts";
import type { DeploymentConfig } from "../conformance/context.ts";
import { loadConfig } from "../conformance/load-config.ts";
import { formatResult } from "../conformance/report.ts";
import { runScenario } from "../conformance/scenario.ts";
import { scenarios } from "../conformance/scenarios.ts";
import { firstPage } from "../conformance/scenarios-history.ts";
import { SECRET } from "../fixtures.ts";
import { startTestStack } from "./harness.ts";

let stack: LocalStack;
let config: DeploymentConfig;
/** Servers a test started (HTTP or WebSocket), closed after the file. */
const servers: { close(done: () => void): void }[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  config = await loadConfig(stack.url);
});
afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  await stack.close();
});

/** The local stack knows its secret, so the refusal scenario also gets an expired token that is validly signed. */
const signToken = async (username: string, issuedAtMs: number, ttlSeconds: number) =>
  (await signSessionToken(tokenKey(SECRET), username, ttlSeconds, issuedAtMs)).token;

describe("the conformance scenarios against the local stack", () => {
  // The local stack runs in guest mode: the OIDC-only scenario does not apply to it.
  for (const [index, scenario] of scenarios.entries()) {
    if (scenario.onlyInMode) continue;
    it(scenario.name, async () => {
      const result = await runScenario(scenario, config, index + 1, { signToken });
      expect(result.status, formatResult(result).join("\n")).toBe("passed");
    }, 40_000);
  }
});

/** An HTTP server on a free port answering every request with `listener`. */
async function serve(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Runs the CLI's main with its output kept. */
async function runCli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const lines = { out: [] as string[], err: [] as string[] };
  const output: Output = { out: (line) => lines.out.push(line), err: (line) => lines.err.push(line) };
  const code = await main(argv, output);
  return { code, out: lines.out.join("\n"), err: lines.err.join("\n") };
}

/** A port nothing listens on: one just freed. */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("the conformance client", () => {
  it("keeps every frame of a burst for the waits that follow, in order", async () => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    servers.push(server);
    server.on("connection", (socket) => {
      for (let i = 0; i < 200; i++) socket.send(JSON.stringify({ type: "pong", timestamp: i }));
    });
    await new Promise((resolve) => server.once("listening", resolve));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const opened = await handshake(url, undefined, "burst", 5_000);
    if (!opened.ok) throw new Error(`refused: ${opened.status}`);
    const frames = await opened.socket.collect((frame) => frame.type === "pong", 200, "a pong");
    expect(frames.map((frame) => (frame.type === "pong" ? frame.timestamp : -1))).toEqual([...Array(200).keys()]);
    await opened.socket.close();
  });

  it("asks for the newest history page again until it holds the newest message (history lags on AWS)", async () => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    servers.push(server);
    const frame = (id: string) => ({ type: "message", id, from: "Lucy", message: id, channel: "room", timestamp: 1 });
    // Like an eventually consistent query: the first two answers do not have the newest message yet.
    const views = [[frame("a")], [frame("a")], [frame("a"), frame("b")]];
    const asked: unknown[] = [];
    server.on("connection", (socket) =>
      socket.on("message", (data) => {
        asked.push(JSON.parse(String(data)));
        const messages = views[Math.min(asked.length, views.length) - 1];
        socket.send(JSON.stringify({ type: "history", channel: "room", messages, more: false }));
      }),
    );
    await new Promise((resolve) => server.once("listening", resolve));
    const opened = await handshake(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, undefined, "r", 5_000);
    if (!opened.ok) throw new Error(`refused: ${opened.status}`);
    const page = await firstPage(opened.socket, "room", "b", 30_000);
    expect(page).toEqual({ messages: [frame("a"), frame("b")], more: false });
    expect(asked).toEqual([{ action: "history" }, { action: "history" }, { action: "history" }]);
    // Bounded: a history that never shows the message gives its last page back, for the scenario to fail on.
    const stale = await firstPage(opened.socket, "room", "c", 500);
    expect(stale.messages.map((message) => message.id)).toEqual(["a", "b"]);
    await opened.socket.close();
  });

  it("fails a wait at once, naming the frame, when the server sends a frame off the schema", async () => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    servers.push(server);
    server.on("connection", (socket) => socket.send(JSON.stringify({ message: "Internal server error" })));
    await new Promise((resolve) => server.once("listening", resolve));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const opened = await handshake(url, undefined, "Lucy", 5_000);
    if (!opened.ok) throw new Error(`refused: ${opened.status}`);
    await expect(opened.socket.nextOfType("pong", 60_000)).rejects.toMatchObject({
      message: "a server frame broke the protocol",
      expected: "Lucy to receive a pong frame",
      received: expect.stringContaining("Lucy received a frame off the schema (type: Invalid type"),
    });
    await opened.socket.close();
  });
});

describe("npm run test:deployed", () => {
  it("runs the chosen scenarios against a chat and exits 0, ending with the summary line", async () => {
    const { code, out } = await runCli(stack.url, "--only", "ping is answered");
    expect(code).toBe(0);
    expect(out).toMatch(/^✓ A ping is answered with a pong \(\d+ ms\)$/m);
    expect(out.split("\n")).toContain("1 passed, 0 failed");
  });

  it("exits 1 and says what was expected and received when a scenario fails", async () => {
    // A site whose config names the real session endpoint but a WebSocket endpoint that refuses every handshake.
    const site = await serve((request, response) => {
      if (request.url !== "/config.json") return void response.writeHead(404).end();
      const wsUrl = `ws://${request.headers.host}/ws`;
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ wsUrl, sessionUrl: stack.sessionUrl }));
    });
    const { code, out } = await runCli(site, "--only", "ping is answered");
    expect(code).toBe(1);
    expect(out).toMatch(/^✗ A ping is answered with a pong/m);
    expect(out).toContain("expected: the handshake to be accepted (101)");
    expect(out).toContain("received: HTTP 404");
    expect(out.split("\n")).toContain("0 passed, 1 failed");
  });

  it("in OIDC mode reports the guest session scenarios as skipped with the reason, and runs the OIDC one", async () => {
    // A guest chat presented as an OIDC one: its session endpoint grants guest bodies, which OIDC mode must refuse.
    const site = await serve((_, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      const auth = { mode: "oidc", issuer: "https://issuer.invalid", clientId: "chat" };
      response.end(JSON.stringify({ wsUrl: stack.wsUrl, sessionUrl: stack.sessionUrl, auth }));
    });
    const { code, out } = await runCli(site, "--only", "session endpoint");
    expect(code).toBe(1);
    expect(out).toContain(
      "- The session endpoint answers a valid username with a token, the username and expiresAt (skipped: needs a session, and in OIDC mode a session needs an ID token from the issuer (guest mode only))",
    );
    expect(out).toMatch(/^✗ In OIDC mode the session endpoint refuses a guest body and a forged ID token with 401/m);
    expect(out).toContain('expected: 401 {"error"}');
    expect(out.split("\n")).toContain("0 passed, 1 failed");
    expect(out).toContain("2 skipped");
  });

  it("exits 2 with one clear message against a site answering HTML", async () => {
    const site = await serve((_, response) => {
      response.writeHead(200, { "content-type": "text/html" });
      response.end("<!doctype html><title>Not a chat</title>");
    });
    const { code, out, err } = await runCli(site);
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err).toBe(
      `Not the chat: expected a JSON object {"wsUrl","sessionUrl","auth"} (the chat's config.json) at ${site}/config.json, but it answered HTML (text/html)`,
    );
  });

  it("exits 2 with one clear message when the connection is refused", async () => {
    const site = `http://127.0.0.1:${await refusedPort()}`;
    const { code, err } = await runCli(site);
    expect(code).toBe(2);
    expect(err).toContain(`at ${site}/config.json, but the request failed: the connection was refused`);
  });

  it("exits 2 with one clear message when config.json has no wsUrl", async () => {
    const site = await serve((_, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ sessionUrl: "/session" }));
    });
    const { code, err } = await runCli(`${site}/`);
    expect(code).toBe(2);
    expect(err).toContain(`at ${site}/config.json, but it has no wsUrl (a ws:// or wss:// URL); it has ["sessionUrl"]`);
  });

  it("exits 2 with one clear message when the site never answers, within the wait's bound", async () => {
    const site = await serve(() => {}); // takes the request and never answers
    const { code, err } = await runCli(site, "--timeout", "300");
    expect(code).toBe(2);
    expect(err).toContain(`at ${site}/config.json, but the request failed: no answer within 0.3 s`);
  });

  it("exits 2 with the usage when no site URL is given", async () => {
    const { code, err } = await runCli();
    expect(code).toBe(2);
    expect(err).toContain("Usage: npm run test:deployed -- <site URL>");
  });

  it("runs as a program: the exit code and the message reach the shell", async () => {
    const site = `http://127.0.0.1:${await refusedPort()}`;
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) =>
      execFile(process.execPath, ["--import", "tsx", "test/conformance/cli.ts", site], (error, _, stderr) =>
        resolve({ code: error ? (error.code as number) : 0, stderr }),
      ),
    );
    expect(code).toBe(2);
    expect(stderr).toContain(`Not the chat: expected`);
    expect(stderr).toContain(`${site}/config.json, but the request failed: the connection was refused`);
  });
});
