import { resolve } from "node:path";
import { positiveIntEnv } from "../lambda/runtime/environment.ts";
import { buildWeb } from "../web/build.ts";
import { consoleLogger, logLevel } from "./local-logger.ts";
import { startLocalStack } from "./local-stack.ts";

/** CHAT_DYNAMODB_ENDPOINT, checked: an http(s) URL, and not together with CHAT_DATA_DIR (dynalite's folder). */
function dynamoEndpointFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const value = env.CHAT_DYNAMODB_ENDPOINT;
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`CHAT_DYNAMODB_ENDPOINT must be an http(s) URL such as http://127.0.0.1:8000, got "${value}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new Error(`CHAT_DYNAMODB_ENDPOINT must be an http(s) URL such as http://127.0.0.1:8000, got "${value}"`);
  if (env.CHAT_DATA_DIR)
    throw new Error(
      "CHAT_DATA_DIR keeps the embedded dynalite's data: with CHAT_DYNAMODB_ENDPOINT, the store keeps it",
    );
  return value;
}

/**
 * `npm start`: builds the page, starts the whole chat locally and prints where to open it.
 * PORT, CHAT_TOKEN_SECRET, CHAT_TOKEN_TTL and CHAT_DATA_DIR as in the protocol; CHAT_LOG_LEVEL (debug … silent);
 * CHAT_DYNAMODB_ENDPOINT: a DynamoDB-compatible store to use (e.g. DynamoDB Local) instead of the embedded dynalite.
 */
async function main(): Promise<void> {
  const env = process.env;
  // The SDK's versions are pinned in the lock file, so its notice about future releases needing Node 22 is noise here.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const port = env.PORT === undefined || env.PORT === "" ? 3000 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`PORT must be a port number, got "${env.PORT}"`);
  const dynamoEndpoint = dynamoEndpointFromEnv(env);
  const auth = env.CHAT_AUTH || "guest";
  if (auth !== "guest" && auth !== "oidc") throw new Error(`CHAT_AUTH must be "guest" or "oidc", got "${auth}"`);
  const { outdir } = await buildWeb(resolve("dist/web"));
  const stack = await startLocalStack({
    port,
    host: env.HOST || "127.0.0.1",
    tokenSecret: env.CHAT_TOKEN_SECRET || undefined,
    tokenTtlSeconds: positiveIntEnv("CHAT_TOKEN_TTL"),
    presenceLimit: positiveIntEnv("CHAT_PRESENCE_LIMIT"),
    auth,
    sessionRate: positiveIntEnv("CHAT_SESSION_RATE"),
    dataDir: env.CHAT_DATA_DIR ? resolve(env.CHAT_DATA_DIR) : undefined,
    dynamoEndpoint,
    webDir: outdir,
    logger: consoleLogger(logLevel(env.CHAT_LOG_LEVEL)),
  });
  process.stdout.write(
    [
      "",
      `  Chat running at ${stack.url}`,
      stack.oidc
        ? `  Open ${stack.url}/?channel=support and sign in at the development OpenID provider ${stack.oidc.issuer} (any name, no password)`
        : `  Open ${stack.url}/?username=Lucy&channel=support and ${stack.url}/?username=Bob&channel=support`,
      `  WebSocket ${stack.wsUrl} · management API ${stack.managementEndpoint}`,
      `  Publish: POST ${stack.url}/publish/channels/{channel}/messages (npm run publish -- support "hello" --url ${stack.url}) · events: ${stack.url}/local/events`,
      dynamoEndpoint
        ? `  Store: the DynamoDB-compatible endpoint ${dynamoEndpoint} (tables ${Object.values(stack.tables).join(", ")})`
        : `  Store: dynalite, embedded; data ${env.CHAT_DATA_DIR ? `in ${resolve(env.CHAT_DATA_DIR)}` : "in memory (set CHAT_DATA_DIR to keep it)"}`,
      "  Ctrl-C stops it.",
      "",
    ].join("\n"),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1); // a second Ctrl-C: do not wait
    stopping = true;
    process.stdout.write(`\n${signal}: closing connections and the local store…\n`);
    stack.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
