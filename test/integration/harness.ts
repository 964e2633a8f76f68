import { createHash, randomBytes } from "node:crypto";
import { type DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, inject } from "vitest";
import { WebSocket } from "ws";
import { limits } from "../../lambda/core/limits.ts";
import { silentLogger } from "../../lambda/core/logger.ts";
import type { ServerFrame } from "../../lambda/core/server-frames.ts";
import { documentClient } from "../../lambda/runtime/aws-clients.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/local-aws.ts";
import {
  type CreateTablesOptions,
  createTables,
  type LocalDynamo,
  type LocalTableNames,
  startLocalDynamo,
} from "../../local/local-dynamo.ts";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../../local/local-stack.ts";
import { SECRET } from "../fixtures.ts";

/** The local DynamoDB the integration suites run on (the vitest project sets it): dynalite or DynamoDB Local. */
export const testStore: "dynalite" | "dynamodb-local" =
  process.env.CHAT_TEST_STORE === "dynamodb-local" ? "dynamodb-local" : "dynalite";

/**
 * Table names of their own for one stack on the run's shared DynamoDB Local; the same names for the same `dataDir`,
 * so that a restarted stack finds its data again as dynalite's folder keeps it.
 */
function tablesOnSharedStore(dataDir?: string): LocalTableNames {
  const prefix = dataDir
    ? `d${createHash("sha256").update(dataDir).digest("hex").slice(0, 12)}`
    : `t${randomBytes(6).toString("hex")}`;
  return prefixed(prefix, TABLES);
}

/** Each table by its own name, to be prefixed. */
const TABLES: LocalTableNames = {
  connections: "connections",
  history: "history",
  presence: "presence",
  rates: "rates",
  members: "members",
};

/** Every table name of `names`, prefixed. */
const prefixed = (prefix: string, names: LocalTableNames): LocalTableNames =>
  Object.fromEntries(
    Object.entries(names).map(([table, name]) => [table, `${prefix}-${name}`]),
  ) as unknown as LocalTableNames;

/** Where a test's store is: nothing to add for dynalite (embedded), the run's DynamoDB Local otherwise. */
function storeOptions(dataDir?: string): Partial<LocalStackOptions> {
  if (testStore === "dynalite") return {};
  return {
    dynamoEndpoint: inject("dynamoLocalEndpoint"),
    dynamoFaultProxy: true,
    tables: tablesOnSharedStore(dataDir),
  };
}

/**
 * How long a test waits for what it expects before failing: generous, since on a loaded two-core machine a round
 * trip can take seconds; a passing test waits only as long as the answer takes.
 */
export const WAIT_MS = 10_000;

/**
 * Rate windows are fixed and aligned to the epoch. Waits for the next one to start unless most of the current one is
 * left, so that a burst sent now is handled within one window even on a loaded machine.
 */
export async function roomInRateWindow(): Promise<void> {
  const left = limits.rateWindowMs - (Date.now() % limits.rateWindowMs);
  if (left < limits.rateWindowMs * 0.7) await new Promise((resolve) => setTimeout(resolve, left + 1));
}

/** A local stack on a free port, quiet, with the test secret, on the project's store. */
export const startTestStack = (options: LocalStackOptions = {}): Promise<LocalStack> =>
  startLocalStack({ port: 0, tokenSecret: SECRET, logger: silentLogger, ...storeOptions(options.dataDir), ...options });

/**
 * The chat's tables on the project's store, for tests of one store class: dynalite started for the test, or tables
 * of their own on the run's DynamoDB Local. Use the answered `names`, which differ from those asked for there.
 * DynamoDB Local deletes expired items within moments once TTL is on (dynalite never does): a test that writes with
 * a fixed clock in the past passes `{ ttl: false }`.
 */
export async function startTestDynamo(
  names: LocalTableNames,
  options: CreateTablesOptions = {},
): Promise<LocalDynamo & { names: LocalTableNames }> {
  if (testStore === "dynalite") return { ...(await startLocalDynamo(names)), names };
  const endpoint = inject("dynamoLocalEndpoint");
  const prefix = `t${randomBytes(6).toString("hex")}`;
  const own = prefixed(prefix, names);
  await createTables(endpoint, own, options);
  return { endpoint, names: own, close: async () => {} };
}

/**
 * The chat's tables for one test file, named `${prefix}-…` (on DynamoDB Local, with a prefix of their own as well),
 * with TTL off (the tests write with a fixed clock in the past), and a document client for them: made before the
 * file's tests and closed after them. Read `names` and `doc` inside tests, once the file's setup has run.
 */
export function useTestTables(prefix: string): {
  readonly names: LocalTableNames;
  readonly doc: DynamoDBDocumentClient;
} {
  let started: (LocalDynamo & { names: LocalTableNames }) | undefined;
  let doc: DynamoDBDocumentClient | undefined;
  beforeAll(async () => {
    started = await startTestDynamo(prefixed(prefix, TABLES), { ttl: false });
    doc = documentClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, dynamoEndpoint: started.endpoint });
  });
  afterAll(async () => {
    doc?.destroy();
    await started?.close();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("the test tables are made before the file's tests: use them inside one");
    return value;
  };
  return {
    get names() {
      return ready(started).names;
    },
    get doc() {
      return ready(doc);
    },
  };
}

/** `POST /session` for a username; the parsed answer and status. */
/** What `POST /session` answers: a session, or an error. */
export interface SessionAnswer {
  token: string;
  username: string;
  expiresAt: number;
  error?: string;
}

export async function requestSession(
  stack: LocalStack,
  body: unknown,
): Promise<{ status: number; body: SessionAnswer }> {
  const response = await fetch(stack.sessionUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

export async function tokenFor(stack: LocalStack, username: string): Promise<string> {
  const { status, body } = await requestSession(stack, { username });
  if (status !== 200) throw new Error(`session for ${username}: ${status} ${JSON.stringify(body)}`);
  return body.token;
}

/** A real WebSocket client that keeps every frame it receives, parsed. */
export class ChatClient {
  readonly frames: ServerFrame[] = [];
  private waiters: { predicate: (frame: ServerFrame) => boolean; resolve: (frame: ServerFrame) => void }[] = [];
  closed: Promise<{ code: number; reason: string }>;

  constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const frame = JSON.parse(data.toString());
      this.frames.push(frame);
      this.waiters = this.waiters.filter((waiter) => {
        if (!waiter.predicate(frame)) return true;
        waiter.resolve(frame);
        return false;
      });
    });
    this.closed = new Promise((resolve) =>
      socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  /** The next frame (already received or still to come) that matches, after those already taken. */
  next(predicate: (frame: ServerFrame) => boolean, timeoutMs = WAIT_MS, what = "a frame"): Promise<ServerFrame> {
    const seen = this.frames.find(predicate);
    if (seen) {
      this.frames.splice(this.frames.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames)}`)),
        timeoutMs,
      );
      this.waiters.push({
        predicate,
        resolve: (frame) => {
          clearTimeout(timer);
          this.frames.splice(this.frames.indexOf(frame), 1);
          resolve(frame);
        },
      });
    });
  }

  async ofType<T extends ServerFrame["type"]>(type: T, timeoutMs?: number): Promise<Extract<ServerFrame, { type: T }>> {
    return (await this.next((frame) => frame.type === type, timeoutMs, `a ${type} frame`)) as Extract<
      ServerFrame,
      { type: T }
    >;
  }

  send(data: string | object): void {
    this.socket.send(typeof data === "string" ? data : JSON.stringify(data));
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    this.socket.close();
    await this.closed;
  }
}

/** Opens a socket; resolves with the client once open, or rejects with the handshake's HTTP status. */
export function openSocket(url: string, protocols?: string | string[]): Promise<ChatClient> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols);
    const client = new ChatClient(socket);
    socket.once("open", () => resolve(client));
    socket.once("unexpected-response", (_, response) => {
      reject(Object.assign(new Error(`handshake refused: ${response.statusCode}`), { status: response.statusCode }));
      socket.terminate();
    });
    socket.once("error", reject);
  });
}

/** Connects a user to a channel with a fresh session token. */
export async function connect(stack: LocalStack, username: string, channel?: string): Promise<ChatClient> {
  const query = new URLSearchParams({ token: await tokenFor(stack, username), ...(channel ? { channel } : {}) });
  return openSocket(`${stack.wsUrl}?${query}`);
}

/** Every stored connection (inspection only: the product never scans). */
export async function storedConnections(stack: LocalStack): Promise<Record<string, unknown>[]> {
  const result = await stack.documentClient.send(new ScanCommand({ TableName: stack.tables.connections }));
  return result.Items ?? [];
}

/** Waits until `check` holds, polling: for what is asynchronous (a log line, a stored record), never sampled. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
