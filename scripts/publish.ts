/**
 * `npm run publish -- <channel> <message> [--from Name] [--url URL]`: publishes one message through the server publish
 * API (docs/protocol.md §8), as a backend would.
 *
 * - Deployed: the URL is the `PublishUrl` output (read from cdk-outputs.json unless `--url` names it), and the request
 *   is signed with SigV4 for `execute-api` with the caller's AWS credentials, from the SDK's default chain
 *   (environment, `AWS_PROFILE`, SSO, instance roles); the caller needs `execute-api:Invoke` on the route.
 * - Local: `--url http://127.0.0.1:3000` (the local stack's own URL) posts to `{url}/publish` unsigned.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";

const USAGE = "usage: npm run publish -- <channel> <message> [--from Name] [--url PublishUrl | http://127.0.0.1:3000]";

/** The `PublishUrl` output of the deployed `Chat` stack, as `npm run deploy` wrote it. */
function deployedPublishUrl(): string {
  let outputs: Record<string, Record<string, string>>;
  try {
    outputs = JSON.parse(readFileSync("cdk-outputs.json", "utf8"));
  } catch {
    throw new Error("no cdk-outputs.json here: deploy first (npm run deploy), or pass --url");
  }
  const url = Object.values(outputs).find((stack) => stack.PublishUrl)?.PublishUrl;
  if (!url) throw new Error("cdk-outputs.json has no PublishUrl: deploy this version first, or pass --url");
  return url;
}

/** The Region of an execute-api host (`{apiId}.execute-api.{region}.amazonaws.com`), else AWS_REGION. */
function regionOf(url: URL): string {
  const region =
    /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(url.hostname)?.[1] ?? process.env.AWS_REGION;
  if (!region) throw new Error(`cannot tell the Region of ${url.host}: set AWS_REGION`);
  return region;
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { from: { type: "string" }, url: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  const [channel, ...words] = positionals;
  if (values.help || !channel || words.length === 0) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const base = new URL(values.url ?? deployedPublishUrl());
  const local = base.protocol === "http:";
  // The local stack serves the publish API under /publish; a deployed PublishUrl is the API's own root.
  const root = local && !base.pathname.replace(/\/$/, "").endsWith("/publish") ? `${base.origin}/publish` : base.href;
  const url = new URL(`${root.replace(/\/$/, "")}/channels/${encodeURIComponent(channel)}/messages`);
  const body = JSON.stringify({
    message: words.join(" "),
    ...(values.from === undefined ? {} : { from: values.from }),
  });
  let headers: Record<string, string> = { "content-type": "application/json", host: url.host };
  if (!local) {
    const signer = new SignatureV4({
      service: "execute-api",
      region: regionOf(url),
      credentials: defaultProvider(),
      sha256: Sha256,
    });
    const signed = await signer.sign({
      method: "POST",
      protocol: url.protocol,
      hostname: url.hostname,
      path: url.pathname,
      query: {},
      headers,
      body,
    });
    headers = signed.headers;
  }
  const { host: _, ...sent } = headers;
  const response = await fetch(url, { method: "POST", headers: sent, body });
  const text = await response.text();
  console.log(`${response.status} ${text}`);
  return response.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
