import { randomBytes } from "node:crypto";
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { crc32 } from "node:zlib";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import {
  chatEventStreams,
  mayMakeEvents,
  type StreamImage,
  type StreamRecord,
  type StreamTable,
  streamKeys,
} from "../lambda/core/chat-events.ts";
import { limits } from "../lambda/core/limits.ts";
import type { CoreLogger } from "../lambda/core/logger.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./local-aws.ts";

/*
 * DynamoDB Streams for the local stack, whose stores have none (dynalite) or that we do not poll (DynamoDB Local).
 * The functions reach the store through this loopback proxy. A write to the history or presence table that can make
 * an event is serialized with the other writes to its item, the item read just before it, and once the store has
 * answered 2xx (the answer already on its way to the function) a stream record is made as DynamoDB would make it:
 * INSERT, MODIFY or REMOVE, with the table's view type. Records are handed on later, in order, off the request's path.
 */

const WRITES = new Set(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"]);

type Kind = "put" | "update" | "delete";

/** One item a write request changes, in a table with a stream. */
interface ItemWrite {
  table: StreamTable;
  tableName: string;
  key: StreamImage;
  kind: Kind;
  item?: StreamImage;
}

type Request = Record<string, unknown>;

const keyOf = (table: StreamTable, item: StreamImage): StreamImage =>
  Object.fromEntries(streamKeys[table].map((name) => [name, item[name] ?? {}]));

/** The items a write request changes in the watched tables. */
function itemWrites(operation: string, body: Request, tables: Map<string, StreamTable>): ItemWrite[] {
  const writes: ItemWrite[] = [];
  const add = (tableName: unknown, kind: Kind, keyOrItem: unknown) => {
    const table = tables.get(String(tableName));
    if (!table || keyOrItem === null || typeof keyOrItem !== "object") return;
    const image = keyOrItem as StreamImage;
    const key = keyOf(table, image);
    if (mayMakeEvents(table, key)) writes.push({ table, tableName: String(tableName), key, kind, item: image });
  };
  if (operation === "PutItem") add(body.TableName, "put", body.Item);
  if (operation === "UpdateItem") add(body.TableName, "update", body.Key);
  if (operation === "DeleteItem") add(body.TableName, "delete", body.Key);
  if (operation === "BatchWriteItem") {
    for (const [tableName, requests] of Object.entries((body.RequestItems ?? {}) as Record<string, Request[]>)) {
      for (const request of requests ?? []) {
        const put = request.PutRequest as Request | undefined;
        const remove = request.DeleteRequest as Request | undefined;
        if (put) add(tableName, "put", put.Item);
        if (remove) add(tableName, "delete", remove.Key);
      }
    }
  }
  if (operation === "TransactWriteItems") {
    for (const item of (body.TransactItems ?? []) as Request[]) {
      const put = item.Put as Request | undefined;
      const update = item.Update as Request | undefined;
      const remove = item.Delete as Request | undefined;
      if (put) add(put.TableName, "put", put.Item);
      if (update) add(update.TableName, "update", update.Key);
      if (remove) add(remove.TableName, "delete", remove.Key);
    }
  }
  return writes;
}

/** The keys a BatchWriteItem answer left unprocessed: those writes did not happen. */
function unprocessed(answer: Buffer): Set<string> {
  const keys = new Set<string>();
  try {
    const items = (JSON.parse(answer.toString("utf8")) as { UnprocessedItems?: Record<string, Request[]> })
      .UnprocessedItems;
    for (const [tableName, requests] of Object.entries(items ?? {})) {
      for (const request of requests) {
        const image = ((request.PutRequest as Request)?.Item ?? (request.DeleteRequest as Request)?.Key) as StreamImage;
        keys.add(`${tableName}\u0000${JSON.stringify(image)}`);
      }
    }
  } catch {
    // not JSON: nothing known to be unprocessed
  }
  return keys;
}

/**
 * Whether an UpdateItem's condition holds only for an item that exists (a top-level `attribute_exists(…)` or
 * `contains(…)` conjunct, no OR or NOT): then the update can never create the item, and never makes an INSERT.
 * UpdateItem never deletes an item, so such an update is a MODIFY or nothing, and needs no image read before it.
 */
export function requiresExistingItem(condition: unknown): boolean {
  if (typeof condition !== "string" || /\b(OR|NOT)\b/i.test(condition)) return false;
  return condition
    .split(/\bAND\b/i)
    .some((conjunct) => /^\(*\s*(attribute_exists|contains)\s*\(/i.test(conjunct.trim()));
}

/** The request asks for nothing back, so the proxy may ask for the old item and keep it from the answer. */
const asksNothing = (body: Request) => body.ReturnValues === undefined || body.ReturnValues === "NONE";

/** An answer with its JSON body replaced, its length and CRC32 (`x-amz-crc32`, as DynamoDB sends) made to match. */
function withBody(answer: Answer, text: string): Answer {
  const body = Buffer.from(text, "utf8");
  const headers: IncomingHttpHeaders = { ...answer.headers, "content-length": String(body.byteLength) };
  delete headers["transfer-encoding"];
  if (headers["x-amz-crc32"] !== undefined) headers["x-amz-crc32"] = String(crc32(body));
  return { ...answer, headers, body };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Serializes the work on each item, as DynamoDB orders one item's stream records. */
class ItemLocks {
  private readonly tails = new Map<string, Promise<void>>();

  async acquire(keys: string[]): Promise<() => void> {
    const releases: (() => void)[] = [];
    for (const key of [...new Set(keys)].sort()) {
      const previous = this.tails.get(key) ?? Promise.resolve();
      let release!: () => void;
      const done = new Promise<void>((resolve) => {
        release = resolve;
      });
      const tail = previous.then(() => done);
      this.tails.set(key, tail);
      await previous;
      releases.push(() => {
        release();
        if (this.tails.get(key) === tail) this.tails.delete(key);
      });
    }
    return () => {
      for (const release of releases) release();
    };
  }
}

/** Where records go: one call per write request, records in stream order. */
export type RecordSink = (table: StreamTable, records: StreamRecord[]) => void;

/** A running stream proxy. */
export interface StreamProxy {
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * Starts the proxy in front of the store at `target`, watching the tables named in `tables`; `sink` gets the
 * records of each successful write, on a later turn of the event loop.
 */
export async function startStreamProxy(
  target: string,
  tables: Readonly<Record<StreamTable, string>>,
  sink: RecordSink,
  logger: CoreLogger,
): Promise<StreamProxy> {
  const base = new URL(target);
  const watched = new Map<string, StreamTable>(
    (Object.entries(tables) as [StreamTable, string][]).map(([table, name]) => [name, table]),
  );
  const store = new DynamoDBClient({
    endpoint: target,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: limits.dynamoMaxAttempts,
  });
  const locks = new ItemLocks();
  // Kept-alive sockets to the store: the functions keep theirs alive to the proxy, and a new socket per request
  // would cost more than the proxy itself.
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  let sequence = 0;

  const send = (request: IncomingMessage, body: Buffer | undefined) =>
    new Promise<Answer>((resolve, reject) => {
      const upstream = httpRequest(
        {
          hostname: base.hostname,
          port: base.port,
          path: request.url,
          method: request.method,
          agent,
          headers: {
            ...request.headers,
            host: base.host,
            ...(body ? { "content-length": String(body.byteLength) } : {}),
          },
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on("data", (chunk: Buffer) => chunks.push(chunk));
          answer.once("end", () =>
            resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }),
          );
          answer.once("error", reject);
        },
      );
      upstream.once("error", reject);
      if (body) upstream.end(body);
      else request.pipe(upstream);
    });

  /** Reads and other tables' writes go through untouched, streamed both ways, as the fault proxy does. */
  const pipeThrough = (request: IncomingMessage, response: ServerResponse, fail: (error: unknown) => void) => {
    const upstream = httpRequest(
      {
        hostname: base.hostname,
        port: base.port,
        path: request.url,
        method: request.method,
        headers: { ...request.headers, host: base.host },
        agent,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.once("error", fail);
    request.pipe(upstream);
  };

  const read = async (write: ItemWrite): Promise<StreamImage | undefined> => {
    const { Item } = await store.send(
      new GetItemCommand({ TableName: write.tableName, Key: write.key as never, ConsistentRead: true }),
    );
    return Item as StreamImage | undefined;
  };

  const record = (
    write: ItemWrite,
    eventName: "INSERT" | "MODIFY" | "REMOVE",
    old?: StreamImage,
    next?: StreamImage,
  ): StreamRecord => {
    const view = chatEventStreams[write.table].viewType as string;
    const newImage = view === "NEW_IMAGE" || view === "NEW_AND_OLD_IMAGES" ? next : undefined;
    const oldImage = view === "OLD_IMAGE" || view === "NEW_AND_OLD_IMAGES" ? old : undefined;
    sequence++;
    return {
      eventID: randomBytes(16).toString("hex"),
      eventName,
      eventVersion: "1.1",
      eventSource: "aws:dynamodb",
      awsRegion: LOCAL_REGION,
      eventSourceARN: `arn:aws:dynamodb:${LOCAL_REGION}:000000000000:table/${write.tableName}/stream/local`,
      dynamodb: {
        // DynamoDB Streams gives epoch seconds.
        ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
        Keys: write.key,
        ...(newImage ? { NewImage: newImage } : {}),
        ...(oldImage ? { OldImage: oldImage } : {}),
        SequenceNumber: String(sequence).padStart(21, "0"),
        SizeBytes: JSON.stringify(write.item ?? write.key).length,
        StreamViewType: view,
      },
    };
  };

  const hand = (table: StreamTable, made: StreamRecord) =>
    setImmediate(() => {
      try {
        sink(table, [made]);
      } catch (error) {
        logger.error("stream records not handed on", { table, error });
      }
    });

  /**
   * A one-item write whose old item the store itself can tell atomically: a PutItem, DeleteItem or UpdateItem asking
   * for nothing back is sent asking for `ALL_OLD`, which is kept from the answer; an UpdateItem that requires the
   * item to exist is at most a MODIFY. No lock and no read: what DynamoDB decides in one step stays one step.
   */
  const oneStepWrite = async (
    request: IncomingMessage,
    response: ServerResponse,
    raw: Buffer,
    body: Request,
    write: ItemWrite,
    rewrite: boolean,
  ) => {
    const sent = rewrite ? Buffer.from(JSON.stringify({ ...body, ReturnValues: "ALL_OLD" }), "utf8") : raw;
    let answer = await send(request, sent);
    let old: StreamImage | undefined;
    if (rewrite && answer.status >= 200 && answer.status < 300) {
      const parsed = JSON.parse(answer.body.toString("utf8")) as { Attributes?: StreamImage };
      old = parsed.Attributes;
      delete parsed.Attributes;
      answer = withBody(answer, JSON.stringify(parsed));
    }
    response.writeHead(answer.status, answer.headers);
    response.end(answer.body);
    if (answer.status < 200 || answer.status >= 300) return;
    if (write.kind === "delete") {
      if (old) hand(write.table, record(write, "REMOVE", old));
      return;
    }
    const needsNew = (chatEventStreams[write.table].viewType as string).includes("NEW");
    const next = write.kind === "put" ? write.item : needsNew ? await read(write) : write.key;
    // Without a rewrite this is an update that required the item: it existed, so this is a MODIFY.
    hand(write.table, record(write, !rewrite || old ? "MODIFY" : "INSERT", old, next));
  };

  /** A write that can make records: serialized per item, its item read before, records made after a 2xx. */
  const watchedWrite = async (
    request: IncomingMessage,
    response: ServerResponse,
    body: Buffer,
    writes: ItemWrite[],
  ) => {
    const lockKey = (write: ItemWrite) => `${write.tableName}\u0000${JSON.stringify(write.key)}`;
    const release = await locks.acquire(writes.map(lockKey));
    try {
      const before = await Promise.all(writes.map(read)).catch((error: unknown) => {
        logger.warn("stream emulation could not read an item before its write; its record is lost", { error });
        return undefined;
      });
      const answer = await send(request, body);
      response.writeHead(answer.status, answer.headers);
      response.end(answer.body);
      if (!before || answer.status < 200 || answer.status >= 300) return;
      const skipped = unprocessed(answer.body);
      const records = new Map<StreamTable, StreamRecord[]>();
      for (const [i, write] of writes.entries()) {
        if (skipped.has(`${write.tableName}\u0000${JSON.stringify(write.item)}`)) continue;
        const old = before[i];
        let made: StreamRecord | undefined;
        if (write.kind === "delete") made = old ? record(write, "REMOVE", old) : undefined;
        else {
          const needsNew = (chatEventStreams[write.table].viewType as string).includes("NEW");
          const next = write.kind === "put" ? write.item : needsNew ? await read(write) : write.key;
          made = record(write, old ? "MODIFY" : "INSERT", old, next);
        }
        if (made) records.set(write.table, [...(records.get(write.table) ?? []), made]);
      }
      setImmediate(() => {
        for (const [table, made] of records) {
          try {
            sink(table, made);
          } catch (error) {
            logger.error("stream records not handed on", { table, error });
          }
        }
      });
    } finally {
      release();
    }
  };

  const server = createServer({ keepAlive: true }, (request, response) => {
    const operation = String(request.headers["x-amz-target"] ?? "").split(".")[1] ?? "";
    const fail = (error: unknown) => {
      logger.warn("stream emulation proxy: request failed", { operation, error });
      response.destroy(); // the SDK sees a dropped connection and retries, as on AWS
    };
    if (!WRITES.has(operation)) return pipeThrough(request, response, fail);
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.once("end", () => {
      const body = Buffer.concat(chunks);
      let parsed: Request = {};
      let writes: ItemWrite[] = [];
      try {
        parsed = JSON.parse(body.toString("utf8")) as Request;
        writes = itemWrites(operation, parsed, watched);
      } catch {
        // not JSON: the store answers it
      }
      const [only] = writes;
      const oneStep =
        only !== undefined &&
        operation !== "BatchWriteItem" &&
        operation !== "TransactWriteItems" &&
        (asksNothing(parsed) || (operation === "UpdateItem" && requiresExistingItem(parsed.ConditionExpression)));
      const handled =
        only === undefined
          ? send(request, body).then((answer) => {
              response.writeHead(answer.status, answer.headers);
              response.end(answer.body);
            })
          : oneStep
            ? oneStepWrite(request, response, body, parsed, only, asksNothing(parsed))
            : watchedWrite(request, response, body, writes);
      handled.catch(fail);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        store.destroy();
        agent.destroy();
        server.close((error?: Error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
