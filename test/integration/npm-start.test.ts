import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws.ts";
import { testStore, WAIT_MS } from "./harness.ts";

// `npm start` as a user runs it (local/main.ts in a process of its own), in a folder of its own for the built page.
const MAIN = fileURLToPath(new URL("../../local/main.ts", import.meta.url));
const TSX = fileURLToPath(new URL("../../node_modules/tsx/dist/cli.mjs", import.meta.url));

let cwd: string;
beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), "chat-start-"));
});
afterAll(() => rm(cwd, { recursive: true, force: true }));

/** Starts `npm start` with `env` added; its output so far, and the process. */
function start(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number> } {
  const child = spawn(process.execPath, [TSX, MAIN], {
    cwd,
    env: { ...process.env, PORT: "0", CHAT_LOG_LEVEL: "silent", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout?.on("data", (data: Buffer) => {
    text += data.toString();
  });
  child.stderr?.on("data", (data: Buffer) => {
    text += data.toString();
  });
  const exited = new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? -1)));
  return { child, output: () => text, exited };
}

/** Waits until the output holds `text`, or the process ends without it. */
async function waitForOutput(started: ReturnType<typeof start>, text: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS * 3;
  while (!started.output().includes(text)) {
    if (started.child.exitCode !== null) throw new Error(`exited ${started.child.exitCode}: ${started.output()}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" in: ${started.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("npm start and its store", () => {
  it.each([
    [{ CHAT_DYNAMODB_ENDPOINT: "localhost:8000" }, /CHAT_DYNAMODB_ENDPOINT must be an http\(s\) URL/],
    [{ CHAT_DYNAMODB_ENDPOINT: "ftp://127.0.0.1:8000" }, /CHAT_DYNAMODB_ENDPOINT must be an http\(s\) URL/],
    [{ CHAT_DYNAMODB_ENDPOINT: "http://127.0.0.1:8000", CHAT_DATA_DIR: "data" }, /CHAT_DATA_DIR keeps the embedded/],
  ])("refuses %j with a clear message and exit code 1", async (env, message) => {
    const started = start(env);
    expect(await started.exited).toBe(1);
    expect(started.output()).toMatch(message);
  });

  it(
    testStore === "dynamodb-local"
      ? "uses the DynamoDB-compatible store CHAT_DYNAMODB_ENDPOINT names, creates its tables there and says so"
      : "embeds dynalite when no CHAT_DYNAMODB_ENDPOINT is given and says so",
    async () => {
      const endpoint = testStore === "dynamodb-local" ? inject("dynamoLocalEndpoint") : undefined;
      const started = start(endpoint ? { CHAT_DYNAMODB_ENDPOINT: endpoint } : {});
      try {
        await waitForOutput(started, "Ctrl-C stops it.");
        if (endpoint) {
          expect(started.output()).toContain(`Store: the DynamoDB-compatible endpoint ${endpoint}`);
          const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
          const { TableNames = [] } = await client.send(new ListTablesCommand({}));
          client.destroy();
          expect(TableNames).toEqual(expect.arrayContaining(["chat-connections", "chat-history"]));
        } else {
          expect(started.output()).toContain("Store: dynalite, embedded");
        }
      } finally {
        started.child.kill("SIGTERM");
      }
      expect(await started.exited).toBe(0);
    },
  );
});
