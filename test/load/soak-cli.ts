import { soak } from "./soak.ts";

/**
 * `npm run soak`: 1,000 clients across 20 channels, 20,000 messages on a local stack (override with
 * SOAK_CLIENTS, SOAK_CHANNELS, SOAK_MESSAGES; SOAK_DYNAMODB_ENDPOINT soaks a running DynamoDB-compatible store such as
 * DynamoDB Local instead of dynalite), with a user flooding on SOAK_FLOODER_CONNECTIONS connections of its own (10;
 * 0 for none) and a user in 3 tabs sending 5 messages each, one every 3 s per tab, in the first channel. Exits
 * non-zero on any loss, duplicate, error frame to anyone but the flooder, handler error, or heap growth over 16 MB
 * from a quarter of the messages (pools and caches warm) to the end.
 */
const number = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const clients = number("SOAK_CLIENTS", 1_000);
const messages = number("SOAK_MESSAGES", 20_000);
const report = await soak({
  clients,
  channels: number("SOAK_CHANNELS", 20),
  messages,
  dynamoEndpoint: process.env.SOAK_DYNAMODB_ENDPOINT || undefined,
  ...(number("SOAK_FLOODER_CONNECTIONS", 10) > 0
    ? { flooder: { connections: number("SOAK_FLOODER_CONNECTIONS", 10), window: 8, closes: 1 } }
    : {}),
  tabs: { connections: 3, messages: Math.min(5, Math.ceil(messages / clients)), intervalMs: 3_000 },
});
console.log(JSON.stringify(report, null, 2));
// Memory is flat when the last three quarters of the run add no more than noise to the heap.
const growth = report.heapAtEndMb - report.heapWarmMb;
const ok =
  report.lost === 0 &&
  report.duplicated === 0 &&
  report.handlerErrors === 0 &&
  report.unexpectedFrames === 0 &&
  report.errorFramesToOthers === 0 &&
  growth < 16;
console.log(ok ? "soak passed" : "soak FAILED");
process.exit(ok ? 0 : 1);
