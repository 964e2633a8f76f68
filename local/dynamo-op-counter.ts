import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import dynalite from "dynalite";

type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** DynamoDB operations that read items (the `X-Amz-Target` names). */
export const READ_OPERATIONS = ["GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"] as const;
/** DynamoDB operations that write items. */
export const WRITE_OPERATIONS = [
  "PutItem",
  "UpdateItem",
  "DeleteItem",
  "BatchWriteItem",
  "TransactWriteItems",
] as const;

/** Operations counted so far: each request the store answered, whatever its outcome (a failed condition included). */
export interface DynamoOpCounts {
  /** By operation name (`Query`, `UpdateItem`, …). */
  byOperation: Record<string, number>;
  /** By `operation table` (`Query chat-history`); an operation naming several tables counts once per table. */
  byTable: Record<string, number>;
  /** All item reads (the operations of {@link READ_OPERATIONS}), index reads included. */
  reads: number;
  /** Reads of a secondary index: a `Query` or `Scan` naming an `IndexName`. */
  indexReads: number;
  /** All item writes (the operations of {@link WRITE_OPERATIONS}). */
  writes: number;
  /** Every operation, control-plane ones (DescribeTable, …) included. */
  total: number;
}

const READS = new Set<string>(READ_OPERATIONS);
const WRITES = new Set<string>(WRITE_OPERATIONS);

/** The tables a request body names: `TableName`, or the keys of `RequestItems`, or each item of `TransactItems`. */
function tablesOf(body: Record<string, unknown>): string[] {
  if (typeof body.TableName === "string") return [body.TableName];
  if (body.RequestItems && typeof body.RequestItems === "object") return Object.keys(body.RequestItems);
  if (Array.isArray(body.TransactItems)) {
    return body.TransactItems.flatMap((item) =>
      Object.values((item ?? {}) as Record<string, { TableName?: unknown }>)
        .map((part) => part?.TableName)
        .filter((name): name is string => typeof name === "string"),
    );
  }
  return [];
}

/** Counts every DynamoDB operation a store's request handler answers, by its `X-Amz-Target`. */
export class DynamoOpCounter {
  private counts: DynamoOpCounts = DynamoOpCounter.empty();

  private static empty(): DynamoOpCounts {
    return { byOperation: {}, byTable: {}, reads: 0, indexReads: 0, writes: 0, total: 0 };
  }

  /** A copy of the counts so far. */
  snapshot(): DynamoOpCounts {
    return structuredClone(this.counts);
  }

  /** What happened between two snapshots (`later` − `earlier`). */
  static difference(later: DynamoOpCounts, earlier: DynamoOpCounts): DynamoOpCounts {
    const minus = (a: Record<string, number>, b: Record<string, number>) =>
      Object.fromEntries(
        Object.entries(a)
          .map(([key, value]) => [key, value - (b[key] ?? 0)] as const)
          .filter(([, value]) => value !== 0),
      );
    return {
      byOperation: minus(later.byOperation, earlier.byOperation),
      byTable: minus(later.byTable, earlier.byTable),
      reads: later.reads - earlier.reads,
      indexReads: later.indexReads - earlier.indexReads,
      writes: later.writes - earlier.writes,
      total: later.total - earlier.total,
    };
  }

  /**
   * Wraps a DynamoDB request handler: the handler reads the request as before; a listener beside it keeps a copy of
   * the (small, JSON) body, and the operation is counted once the answer has been sent.
   */
  wrap(handler: RequestHandler): RequestHandler {
    return (request, response) => {
      const operation = String(request.headers["x-amz-target"] ?? "").split(".")[1] ?? "";
      const chunks: Buffer[] = [];
      handler(request, response);
      // Added after the handler's own listeners, so both see every chunk; the handler may remove its listeners (and
      // this one) at the end, by which time the whole body is here.
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.once("finish", () => this.count(operation, chunks));
    };
  }

  private count(operation: string, chunks: Buffer[]): void {
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
    } catch {
      // not JSON: counted by operation only
    }
    const c = this.counts;
    c.total++;
    c.byOperation[operation] = (c.byOperation[operation] ?? 0) + 1;
    for (const table of tablesOf(body))
      c.byTable[`${operation} ${table}`] = (c.byTable[`${operation} ${table}`] ?? 0) + 1;
    if (READS.has(operation)) c.reads++;
    if (WRITES.has(operation)) c.writes++;
    if ((operation === "Query" || operation === "Scan") && typeof body.IndexName === "string") c.indexReads++;
  }
}

/** dynalite on loopback with every operation counted; give its endpoint to `startLocalStack({ dynamoEndpoint })`. */
export interface CountedDynalite {
  readonly endpoint: string;
  readonly counter: DynamoOpCounter;
  close(): Promise<void>;
}

/**
 * Starts dynalite in memory in this process, its request handler wrapped by a {@link DynamoOpCounter} (no proxy hop:
 * the count costs a body copy). The local stack creates its tables there as for any external store.
 */
export async function startCountedDynalite(): Promise<CountedDynalite> {
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const counter = new DynamoOpCounter();
  const [handler] = server.listeners("request") as RequestHandler[];
  if (!handler) throw new Error("dynalite has no request handler to wrap");
  server.removeAllListeners("request");
  server.on("request", counter.wrap(handler));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counter,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error?: Error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
