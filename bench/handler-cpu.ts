import { pathToFileURL } from "node:url";
import { handleFrame } from "../lambda/core/chat.ts";
import { ConnectionStore } from "../lambda/core/connection-store.ts";
import { HistoryStore } from "../lambda/core/history-store.ts";
import { MemberStore } from "../lambda/core/member-store.ts";
import type { Poster } from "../lambda/core/poster.ts";
import { PresenceStore } from "../lambda/core/presence-store.ts";
import { RateStore } from "../lambda/core/rate-store.ts";
import { documentClient } from "../lambda/runtime/aws-clients.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../local/local-aws.ts";
import { benchTables } from "./bench-tables.ts";
import { startHelper } from "./child.ts";
import type { DynaliteReady } from "./dynalite-server.ts";
import { connectionIds } from "./fanout-paths.ts";
import { seedChannel } from "./presence-posts.ts";
import { median, round } from "./stats.ts";

/** The CPU `$default` spends on one chat message besides its posts, measured in this process. */
export interface HandlerCpuResult {
  members: number;
  messages: number;
  /** CPU (user + system) per message, median of the rounds, on one core of this machine. */
  cpuMsPerMessage: number;
  /** Each round's CPU per message. */
  rounds: number[];
}

/**
 * Benchmark 9: the CPU of one chat message in the handler's own process, posts aside: the product's DynamoDB client
 * (`documentClient`, as the functions make it) and the real core (`handleFrame`: the frame parsed, the sender's rate
 * taken, the history item put and the channel index read, the fan-out to `members`) against dynalite in a process of
 * its own, with a poster that answers at once (the posts' own CPU is benchmark 2's). Messages go one at a time, as one
 * Lambda instance takes them; the clock moves a second a message so that the senders stay within their rate.
 */
export async function measureHandlerCpu(options: { members?: number; messages?: number; rounds?: number } = {}) {
  const members = options.members ?? 10;
  const messages = options.messages ?? 300;
  const roundCount = options.rounds ?? 3;
  const store = await startHelper<DynaliteReady>(new URL("dynalite-server.ts", import.meta.url).pathname);
  const doc = documentClient({
    dynamoEndpoint: store.ready.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    const channel = "handler-cpu";
    await seedChannel(doc, benchTables, channel, members);
    let now = Date.now();
    const clock = () => now;
    const answered: Poster = { post: async () => ({ status: "delivered" }) };
    const deps = {
      connections: new ConnectionStore(doc, benchTables.connections, { now: clock }),
      history: new HistoryStore(doc, benchTables.history, { now: clock }),
      presence: new PresenceStore(doc, benchTables.presence, { now: clock }),
      rates: new RateStore(doc, benchTables.rates, { now: clock }),
      members: new MemberStore(doc, benchTables.members),
      poster: answered,
      now: clock,
    };
    const ids = connectionIds(members);
    let sent = 0;
    const send = async () => {
      const sender = sent++ % members;
      now += 1_000;
      const who = { connectionId: ids[sender] as string, username: `member${sender}`, channel };
      const outcome = await handleFrame(deps, who, `message ${sent} from member${sender}`);
      if (outcome.kind !== "broadcast") throw new Error(`message ${sent} was not sent: ${JSON.stringify(outcome)}`);
    };
    for (let i = 0; i < 200; i++) await send(); // compiled and connected before timing
    const rounds: number[] = [];
    for (let r = 0; r < roundCount; r++) {
      const before = process.cpuUsage();
      for (let i = 0; i < messages; i++) await send();
      const spent = process.cpuUsage(before);
      rounds.push(round((spent.user + spent.system) / 1000 / messages, 3));
    }
    return { members, messages, cpuMsPerMessage: median(rounds), rounds } satisfies HandlerCpuResult;
  } finally {
    doc.destroy();
    await store.stop();
  }
}

// `npx tsx bench/handler-cpu.ts` runs this benchmark alone and prints its results.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(JSON.stringify(await measureHandlerCpu(), null, 2));
}
