import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { LOCAL_REGION } from "./local-aws.ts";
import { readBody } from "./read-body.ts";

/** An event as EventBridge hands it to a rule's target (AWS doc "Amazon EventBridge events"). */
export interface LocalEvent {
  version: "0";
  id: string;
  "detail-type": string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
}

/** What the local bus does instead of taking events, to show that delivery never depends on it. */
export type LocalBusFault = "fail" | "hang";

/** PutEvents takes at most 10 entries (AWS doc "Amazon EventBridge quotas"). */
const MAX_ENTRIES = 10;
/** The request body, at most (EventBridge's entries total less than 256 KB; the JSON around them adds a little). */
const MAX_BODY_BYTES = 512 * 1024;

interface PutEventsEntry {
  Source?: unknown;
  DetailType?: unknown;
  Detail?: unknown;
  EventBusName?: unknown;
  Time?: unknown;
  Resources?: unknown;
}

type EntryResult = { EventId: string } | { ErrorCode: string; ErrorMessage: string };

const json = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/x-amz-json-1.1",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
};

/** An AWS JSON error the SDK classifies by its `x-amzn-errortype` header, as EventBridge answers. */
const awsError = (response: ServerResponse, status: number, type: string, message: string) =>
  json(response, status, { __type: type, message }, { "x-amzn-errortype": type });

/** `Time` as the SDK sends it (epoch seconds) or as a string; now when absent. */
function timeOf(value: unknown): string {
  const date = typeof value === "number" ? new Date(value * 1000) : typeof value === "string" ? new Date(value) : null;
  return date && Number.isFinite(date.getTime())
    ? date.toISOString().replace(/\.\d{3}Z$/, "Z")
    : timeOf(Date.now() / 1000);
}

/**
 * The local stack's EventBridge bus: answers PutEvents (the AWS JSON protocol, `X-Amz-Target: AWSEvents.PutEvents`)
 * as EventBridge does, per entry, so the events function runs its real SDK client against it; keeps the latest
 * events as a rule's target would receive them, for `GET {url}/local/events`.
 */
export class LocalEventBus {
  private readonly events: LocalEvent[] = [];
  private readonly hanging = new Set<ServerResponse>();
  /** Set to make every PutEvents fail (500 `InternalException`) or never answer; unset to heal. */
  fault: LocalBusFault | undefined;
  /** PutEvents calls answered, for tests. */
  calls = 0;

  constructor(
    readonly name: string,
    private readonly keep = 100,
  ) {}

  /** PutEvents calls a `hang` fault holds unanswered right now. */
  get held(): number {
    return this.hanging.size;
  }

  /** The latest events, oldest first. */
  latest(): LocalEvent[] {
    return [...this.events];
  }

  /** Handles a PutEvents request. */
  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request, MAX_BODY_BYTES);
    if (body === undefined) return awsError(response, 413, "RequestEntityTooLarge", "the request is too large");
    if (this.fault === "hang") {
      this.hanging.add(response);
      response.once("close", () => this.hanging.delete(response));
      return;
    }
    this.calls++;
    if (this.fault === "fail") return awsError(response, 500, "InternalException", "injected failure of the local bus");
    if (request.headers["x-amz-target"] !== "AWSEvents.PutEvents") {
      return awsError(response, 400, "UnknownOperationException", "the local bus answers PutEvents only");
    }
    let entries: PutEventsEntry[];
    try {
      entries = (JSON.parse(body.toString("utf8")) as { Entries?: PutEventsEntry[] }).Entries ?? [];
    } catch {
      return awsError(response, 400, "SerializationException", "the request body is not JSON");
    }
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > MAX_ENTRIES) {
      return awsError(response, 400, "ValidationException", `Entries must hold 1 to ${MAX_ENTRIES} entries`);
    }
    const results = entries.map((entry) => this.put(entry));
    json(response, 200, {
      FailedEntryCount: results.filter((result) => "ErrorCode" in result).length,
      Entries: results,
    });
  }

  private put(entry: PutEventsEntry): EntryResult {
    const bus = entry.EventBusName ?? "default";
    if (bus !== this.name && !String(bus).endsWith(`:event-bus/${this.name}`)) {
      return { ErrorCode: "ResourceNotFoundException", ErrorMessage: `Event bus ${String(bus)} does not exist.` };
    }
    if (typeof entry.Source !== "string" || typeof entry.DetailType !== "string") {
      return { ErrorCode: "InvalidArgument", ErrorMessage: "Source and DetailType are required." };
    }
    let detail: unknown;
    try {
      detail = JSON.parse(String(entry.Detail));
    } catch {
      return { ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed." };
    }
    if (detail === null || typeof detail !== "object" || Array.isArray(detail)) {
      return { ErrorCode: "MalformedDetail", ErrorMessage: "Detail must be a JSON object." };
    }
    const event: LocalEvent = {
      version: "0",
      id: randomUUID(),
      "detail-type": entry.DetailType,
      source: entry.Source,
      account: "000000000000",
      time: timeOf(entry.Time),
      region: LOCAL_REGION,
      resources: Array.isArray(entry.Resources) ? entry.Resources.map(String) : [],
      detail,
    };
    this.events.push(event);
    if (this.events.length > this.keep) this.events.splice(0, this.events.length - this.keep);
    return { EventId: event.id };
  }

  /** Ends the fault: later calls are answered, and those a `hang` held are cut (the SDK sees a dropped connection). */
  heal(): void {
    this.fault = undefined;
    this.close();
  }

  /** Ends the requests a `hang` fault holds, so the stack can close. */
  close(): void {
    for (const response of this.hanging) response.destroy();
    this.hanging.clear();
  }
}

/**
 * Serves the local bus: `GET {url}/local/events` (the latest events, oldest first, as JSON) and PutEvents at
 * `{url}/local/eventbridge` (where the events function's `AWS_ENDPOINT_URL_EVENTBRIDGE` points). Answers `false`
 * for any other path.
 */
export async function serveLocalEvents(
  bus: LocalEventBus,
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
): Promise<boolean> {
  if (path === "/local/events" && (request.method === "GET" || request.method === "HEAD")) {
    const body = JSON.stringify(bus.latest());
    response.writeHead(200, {
      "content-type": "application/json",
      "cache-control": "no-store",
      "content-length": Buffer.byteLength(body),
    });
    response.end(request.method === "HEAD" ? undefined : body);
    return true;
  }
  // The SDK posts AWS JSON requests to the endpoint's path and "/".
  if ((path === "/local/eventbridge" || path === "/local/eventbridge/") && request.method === "POST") {
    await bus.handle(request, response);
    return true;
  }
  return false;
}
