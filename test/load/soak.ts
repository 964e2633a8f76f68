import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { writeHeapSnapshot } from "node:v8";
import { WebSocket } from "ws";
import type { CoreLogger } from "../../lambda/core/logger.ts";
import { startLocalStack } from "../../local/local-stack.ts";
import { SECRET } from "../fixtures.ts";
import { Flooder, type FlooderReport } from "./flooder.ts";

/** The shape of a soak run. */
export interface SoakOptions {
  readonly clients: number;
  readonly channels: number;
  /** Messages sent in all; each client sends its share, one at a time, each after its own echo. */
  readonly messages: number;
  /** Stop waiting for an echo, or for deliveries, when none arrived for this long. Default: 60 s. */
  readonly stallMs?: number;
  /**
   * A running DynamoDB-compatible store to soak against (e.g. DynamoDB Local), on tables of the run's own. Default:
   * dynalite, started in a process of its own.
   */
  readonly dynamoEndpoint?: string;
  /**
   * A hostile user in the first channel, flooding on `connections` connections of its own (`window` frames unanswered
   * each, see `flooder.ts`) for as long as the others send. Default: none.
   */
  readonly flooder?: {
    readonly connections: number;
    readonly window?: number;
    /** Keeps flooding after the others are done until the server has closed this many of its connections. */
    readonly closes?: number;
  };
  /**
   * A user with several tabs in the first channel: `connections` connections of one name, each sending `messages`
   * messages, one every `intervalMs` (the tabs share the user's rate, so the pace must keep all of them within it).
   * Every tab is a member that must get every message of the channel, its other tabs' included. Default: none.
   */
  readonly tabs?: { readonly connections: number; readonly messages: number; readonly intervalMs: number };
}

/** What a soak run saw. */
export interface SoakReport {
  clients: number;
  channels: number;
  messagesSent: number;
  deliveriesExpected: number;
  deliveriesReceived: number;
  lost: number;
  duplicated: number;
  unexpectedFrames: number;
  /** Error frames (`rate_limited` or any other) that reached anyone but the flooder. */
  errorFramesToOthers: number;
  /** Messages of the multi-tab user, all tabs together. */
  tabMessagesSent: number;
  /** The flooder's chat messages the others got (those within its rate are delivered like anyone's). */
  floodDeliveries: number;
  flooder?: FlooderReport;
  handlerErrors: number;
  /** Warnings logged (a failed post, a stale connection not removed), and the first few of them and of the errors. */
  warnings: number;
  samples: string[];
  /** How late this process's event loop ran (it hosts the clients as well as the whole stack). */
  eventLoopLagMaxMs: number;
  eventLoopLagP99Ms: number;
  heapAfterConnectMb: number;
  /** After a quarter of the messages, once the connection pools have filled. */
  heapWarmMb: number;
  heapAtEndMb: number;
  seconds: number;
}

/** With SOAK_HEAP_SNAPSHOTS=<folder>, heap snapshots at the warm point and at the end, to diff what grew. */
function snapshot(name: string): void {
  const folder = process.env.SOAK_HEAP_SNAPSHOTS;
  if (folder) writeHeapSnapshot(join(folder, `soak-${name}.heapsnapshot`));
}

const mb = (bytes: number) => Math.round((bytes / 1_048_576) * 10) / 10;
const heap = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
};

/** One soak client: counts each message it receives in a slot per (sender, sequence number), so nothing is kept. */
interface SoakClient {
  socket: WebSocket;
  channel: number;
  /** Index among the channel's members. */
  member: number;
  counts: Uint8Array;
  /** Messages this client sent. */
  sent: number;
  unexpected: number;
  errors: number;
  floods: number;
  echo?: () => void;
}

const FLOODER = "flooder";
const TABS_USER = "tabs";

/** dynalite in a process of its own, and its endpoint once it listens. */
async function forkDynalite(): Promise<{ process: ChildProcess; endpoint: string }> {
  const child = fork(new URL("./dynalite-process.ts", import.meta.url).pathname, [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (message: { port?: number }) => resolve(message.port ?? 0));
    child.once("exit", (code) => reject(new Error(`the store process exited (${code})`)));
  });
  return { process: child, endpoint: `http://127.0.0.1:${port}` };
}

/**
 * Many clients across channels on a fresh local stack, every message checked at every member: nothing lost, nothing
 * delivered twice, no handler error, and the heap measured after connecting and at the end.
 */
export async function soak(options: SoakOptions): Promise<SoakReport> {
  const perClient = Math.ceil(options.messages / options.clients);
  const tabs = options.tabs;
  if (tabs && tabs.messages > perClient) throw new RangeError("each tab sends at most as many messages as a client");
  // Members per channel: the clients spread over the channels, and the tabs in the first one.
  const perChannel = Math.ceil(options.clients / options.channels) + (tabs?.connections ?? 0);
  let handlerErrors = 0;
  let warnings = 0;
  const samples: string[] = [];
  const keep = (level: string, message: string, extra: Record<string, unknown>[]) => {
    if (samples.length < 5)
      samples.push(
        `${level} ${message} ${JSON.stringify(Object.assign({}, ...extra), (_, v) => (v instanceof Error ? `${v.name}: ${v.message} ${(v as { code?: string }).code ?? ""}` : v))}`,
      );
  };
  const logger: CoreLogger = {
    info() {},
    warn(message, ...extra) {
      warnings++;
      keep("warn", message, extra);
    },
    error(message, ...extra) {
      handlerErrors++;
      keep("error", message, extra);
    },
  };
  // The store in a process of its own: every history message it keeps (24 h) would otherwise be part of the heap
  // measured here (heap snapshots showed all the growth in dynalite's tree of stored items).
  const store = options.dynamoEndpoint ? undefined : await forkDynalite();
  const prefix = `soak-${randomBytes(4).toString("hex")}`;
  const stack = await startLocalStack({
    port: 0,
    tokenSecret: SECRET,
    logger,
    dynamoEndpoint: options.dynamoEndpoint ?? store?.endpoint,
    tables: {
      connections: `${prefix}-connections`,
      history: `${prefix}-history`,
      presence: `${prefix}-presence`,
      rates: `${prefix}-rates`,
      members: `${prefix}-members`,
    },
  }).catch((error: unknown) => {
    store?.process.kill();
    throw error;
  });
  // How late the event loop ran: clients, emulator, handlers and store share this one process.
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  const started = performance.now();
  const clients: SoakClient[] = [];
  let flooder: Flooder | undefined;
  try {
    let lastProgress = Date.now();
    const tokenOf = async (username: string) => {
      const response = await fetch(stack.sessionUrl, { method: "POST", body: JSON.stringify({ username }) });
      return ((await response.json()) as { token: string }).token;
    };
    const open = async (channel: number, member: number, username: string): Promise<SoakClient> => {
      const token = await tokenOf(username);
      const socket = new WebSocket(`${stack.wsUrl}?channel=soak-${channel}&token=${token}`);
      const client: SoakClient = {
        socket,
        channel,
        member,
        counts: new Uint8Array(perChannel * perClient),
        sent: 0,
        unexpected: 0,
        errors: 0,
        floods: 0,
      };
      socket.on("message", (data) => {
        const frame = JSON.parse(data.toString()) as { type: string; message?: string; from?: string };
        if (frame.type === "error") client.errors++;
        if (frame.type !== "message") return; // join notices
        if (frame.from === FLOODER) {
          client.floods++;
          return;
        }
        const match = /^s(\d+)-(\d+)$/.exec(frame.message ?? "");
        if (!match) {
          client.unexpected++;
          return;
        }
        const [sender, sequence] = [Number(match[1]), Number(match[2])];
        const slot = sender * perClient + sequence;
        client.counts[slot] = Math.min(255, (client.counts[slot] ?? 0) + 1);
        lastProgress = Date.now();
        if (sender === client.member) client.echo?.();
      });
      await new Promise<void>((resolve, reject) => {
        socket.once("open", () => resolve());
        socket.once("error", reject);
      });
      return client;
    };
    for (let start = 0; start < options.clients; start += 50) {
      const batch = Array.from({ length: Math.min(50, options.clients - start) }, (_, i) => {
        const index = start + i;
        return open(index % options.channels, Math.floor(index / options.channels), `soak${index}`);
      });
      clients.push(...(await Promise.all(batch)));
    }
    // The tabs: members of the first channel after its clients, all of one user.
    const firstChannelClients = Math.ceil(options.clients / options.channels);
    const tabClients: SoakClient[] = [];
    for (let tab = 0; tab < (tabs?.connections ?? 0); tab++)
      tabClients.push(await open(0, firstChannelClients + tab, TABS_USER));
    clients.push(...tabClients);
    flooder = options.flooder
      ? new Flooder({
          url: `${stack.wsUrl}?channel=soak-0&token=${await tokenOf(FLOODER)}`,
          connections: options.flooder.connections,
          window: options.flooder.window,
        })
      : undefined;
    const heapAfterConnect = heap();
    let heapWarm = heapAfterConnect;

    const stallMs = options.stallMs ?? 60_000;
    let sent = 0;
    let tabMessagesSent = 0;
    /** Sends one message and waits for its echo; false when none came within `stallMs`. */
    const sendOne = async (client: SoakClient, sequence: number): Promise<boolean> => {
      let timer: NodeJS.Timeout | undefined;
      const echoed = await new Promise<boolean>((resolve) => {
        client.echo = () => resolve(true);
        timer = setTimeout(() => resolve(false), stallMs);
        client.socket.send(`s${client.member}-${sequence}`);
      });
      clearTimeout(timer);
      return echoed;
    };
    const tabsSending = tabClients.map(async (client, tab) => {
      // The tabs start at staggered moments, so the user's messages are spread over each interval.
      await new Promise((resolve) => setTimeout(resolve, ((tabs?.intervalMs ?? 0) * tab) / tabClients.length));
      for (let sequence = 0; sequence < (tabs?.messages ?? 0); sequence++) {
        const paced = new Promise((resolve) => setTimeout(resolve, tabs?.intervalMs ?? 0));
        client.sent++;
        tabMessagesSent++;
        if (!(await sendOne(client, sequence))) break;
        await paced;
      }
    });
    flooder?.start();
    await Promise.all(
      clients
        .filter((client) => !tabClients.includes(client))
        .map(async (client) => {
          for (let sequence = 0; sequence < perClient && sent < options.messages; sequence++) {
            sent++;
            client.sent++;
            // Once a quarter of the messages are out, the socket pools, caches and compiled code are warm: memory from
            // here to the end is what a leak would show.
            if (sent === Math.ceil(options.messages / 4)) {
              heapWarm = heap();
              snapshot("warm");
            }
            // The next message goes after this one's echo, which keeps each client within its rate and the offered load
            // within what the stack serves. A client whose echo never comes stops sending (its loss is counted below)
            // rather than piling more on a stack that is already behind.
            if (!(await sendOne(client, sequence))) break;
          }
        }),
    );
    await Promise.all(tabsSending);
    const floodUntil = Date.now() + stallMs;
    while (flooder && flooder.report.closedByServer < (options.flooder?.closes ?? 0) && Date.now() < floodUntil)
      await new Promise((resolve) => setTimeout(resolve, 50));
    await flooder?.stop();

    // Everyone in a channel should get every message of every sender in it, the sender included.
    const members = (client: SoakClient) => clients.filter((other) => other.channel === client.channel);
    const received = () =>
      clients.reduce((sum, client) => sum + client.counts.reduce((a, b) => a + Math.min(b, 1), 0), 0);
    const expected = clients.reduce(
      (sum, client) => sum + members(client).reduce((n, member) => n + member.sent, 0),
      0,
    );
    while (received() < expected && Date.now() - lastProgress < stallMs)
      await new Promise((resolve) => setTimeout(resolve, 50));

    let lost = 0;
    let duplicated = 0;
    for (const client of clients) {
      for (const member of members(client)) {
        for (let sequence = 0; sequence < member.sent; sequence++) {
          const count = client.counts[member.member * perClient + sequence] ?? 0;
          if (count === 0) lost++;
          if (count > 1) duplicated += count - 1;
        }
      }
    }
    snapshot("end");
    const heapAtEnd = heap();
    return {
      clients: clients.length,
      channels: options.channels,
      messagesSent: sent,
      deliveriesExpected: expected,
      deliveriesReceived: clients.reduce((sum, client) => sum + client.counts.reduce((a, b) => a + b, 0), 0),
      lost,
      duplicated,
      unexpectedFrames: clients.reduce((sum, client) => sum + client.unexpected, 0),
      errorFramesToOthers: clients.reduce((sum, client) => sum + client.errors, 0),
      tabMessagesSent,
      floodDeliveries: clients.reduce((sum, client) => sum + client.floods, 0),
      ...(flooder ? { flooder: flooder.report } : {}),
      handlerErrors,
      warnings,
      samples,
      eventLoopLagMaxMs: Math.round(lag.max / 1e6),
      eventLoopLagP99Ms: Math.round(lag.percentile(99) / 1e6),
      heapAfterConnectMb: mb(heapAfterConnect),
      heapWarmMb: mb(heapWarm),
      heapAtEndMb: mb(heapAtEnd),
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    await flooder?.stop();
    for (const client of clients) client.socket.close();
    await stack.close();
    store?.process.kill();
  }
}
