import { Agent, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type CoreLogger, silentLogger } from "../../lambda/core/logger.ts";
import { signedHttpPoster } from "../../lambda/core/poster.ts";
import type { FunctionConfig, FunctionHooks } from "../../local/lambda-functions.ts";
import { LambdaThread } from "../../local/lambda-thread.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws.ts";
import { type LocalStack, startLocalStack } from "../../local/local-stack.ts";
import { ManagementThread } from "../../local/management-thread.ts";
import { connect, startTestStack } from "./harness.ts";

const SCRIPTED = new URL("./scripted-lambda-worker.ts", import.meta.url);
const config: FunctionConfig = { env: {}, aws: { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS } };

function recordingHooks() {
  const logs: { level: string; message: string; details: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (message: string, ...extra: Record<string, unknown>[]) =>
      logs.push({ level, message, details: Object.assign({}, ...extra) });
  const logger: CoreLogger = { info: at("info"), warn: at("warn"), error: at("error") };
  const hooks: FunctionHooks = { logger, segmentQueue: { enqueue: async () => {} } };
  return { logs, hooks };
}

let thread: LambdaThread | undefined;
afterEach(async () => {
  await thread?.close();
  thread = undefined;
});

describe("the functions' worker thread", () => {
  it("answers each invocation with its function's result", async () => {
    thread = await LambdaThread.start(config, recordingHooks().hooks, SCRIPTED);

    const results = await Promise.all([
      thread.functions.$default({ do: "answer" }),
      thread.functions.session({ do: "answer" }),
    ]);

    expect(results).toEqual([
      { statusCode: 200, body: "$default" },
      { statusCode: 200, body: "session" },
    ]);
  });

  it("rejects with the handler's error, its name and fields kept", async () => {
    thread = await LambdaThread.start(config, recordingHooks().hooks, SCRIPTED);

    const error = await thread.functions.$default({ do: "throw" }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: "ScriptedFailure", message: "scripted", $metadata: { httpStatusCode: 429 } });
  });

  it("hands the worker's log lines to the stack's logger, errors whole and functions dropped", async () => {
    const { logs, hooks } = recordingHooks();
    thread = await LambdaThread.start(config, hooks, SCRIPTED);

    await thread.functions.$default({ do: "log" });

    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ level: "error", message: "scripted log" });
    expect(logs[0]?.details.error).toBeInstanceOf(Error);
    expect(logs[0]?.details.error).toMatchObject({ name: "ScriptedFailure", message: "logged" });
    expect(logs[0]?.details.skipped).toBeUndefined();
  });

  it("fails what a crashed thread was running, logs it, and runs the next invocation on a new thread", async () => {
    const { logs, hooks } = recordingHooks();
    thread = await LambdaThread.start(config, hooks, SCRIPTED);

    const crashed = await thread.functions.$default({ do: "exit" }).catch((caught: unknown) => caught);
    const next = await thread.functions.$default({ do: "answer" });

    expect(crashed).toBeInstanceOf(Error);
    expect((crashed as Error).message).toMatch(/stopped \(exit code 3\)/);
    expect(logs.map((log) => log.message)).toContain(
      "Lambda worker thread stopped; the next invocation starts a new one",
    );
    expect(next).toEqual({ statusCode: 200, body: "$default" });
  });

  it("rejects the start with the functions' own error when their cold start fails", async () => {
    const start = LambdaThread.start(config, recordingHooks().hooks);

    await expect(start).rejects.toThrow(/CONNECTIONS_TABLE/);
  });
});

describe("the local stack without worker threads", () => {
  let stack: LocalStack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it("delivers a message to every member of the channel, as with the worker thread", async () => {
    stack = await startTestStack({ workerThreads: false });
    const ann = await connect(stack, "Ann", "same-thread");
    const ben = await connect(stack, "Ben", "same-thread");
    await ann.ofType("system");

    ann.send("hello");

    for (const client of [ann, ben]) {
      expect(await client.ofType("message")).toMatchObject({ from: "Ann", message: "hello", channel: "same-thread" });
    }
    await Promise.all([ann.close(), ben.close()]);
  });
});

describe("a local stack that cannot start", () => {
  /** Listens on `port` (0: any free one) and closes again, answering the port; rejects when it is taken. */
  const listenOnce = async (port: number): Promise<number> => {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    const { port: bound } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return bound;
  };

  it.each([true, false])(
    "rejects with the functions' error and leaves its port free (worker threads: %s)",
    async (workerThreads) => {
      const port = await listenOnce(0);

      const start = startLocalStack({ port, tokenSecret: "too-short", workerThreads, logger: silentLogger });

      await expect(start).rejects.toThrow(/at least 32 bytes/);
      expect(await listenOnce(port)).toBe(port);
    },
  );
});

describe("the management API's thread", () => {
  it.each([
    [
      "throws",
      () => {
        throw new Error("decision failed");
      },
    ],
    ["rejects", () => Promise.reject(new Error("decision failed"))],
  ] as const)("answers 500 InternalServerErrorException and logs it when deciding an answer %s", async (_, answer) => {
    const { logs, hooks } = recordingHooks();
    const management = await ManagementThread.start("127.0.0.1", "local", answer, hooks.logger);
    try {
      const poster = signedHttpPoster({
        endpoint: management.endpoint,
        region: LOCAL_REGION,
        credentials: async () => LOCAL_CREDENTIALS,
        agent: new Agent(),
        maxAttempts: 1,
      });
      expect(await poster.post("abc=", Buffer.from("hi"))).toMatchObject({
        status: "failed",
        error: { name: "InternalServerErrorException", $metadata: { httpStatusCode: 500 } },
      });
      expect(logs).toMatchObject([{ level: "error", message: "management API request failed" }]);
    } finally {
      await management.close();
    }
  });
});
