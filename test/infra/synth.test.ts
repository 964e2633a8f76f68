import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../infra/repo-paths.ts";
import { fakeSiteBuild } from "./infra-fixture.ts";

const run = promisify(execFile);

/** Lambda caps an unzipped deployment package at 250 MB; a chat handler should stay far below, so 2 MB it is. */
const MAX_BUNDLE_BYTES = 2 * 1024 * 1024;

let root: string;
let outdir: string;
let synthOutput: string;

interface TemplateResource {
  Type: string;
  Properties: { Runtime?: string; Handler?: string };
  Metadata?: Record<string, string>;
}

/** Each chat function of the Chat template, with the folder of its bundle in the cloud assembly. */
function chatFunctions(): { id: string; dir: string }[] {
  const template = JSON.parse(readFileSync(join(outdir, "Chat.template.json"), "utf8")) as {
    Resources: Record<string, TemplateResource>;
  };
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === "AWS::Lambda::Function")
    .map(([id, r]) => ({ id, dir: join(outdir, r.Metadata?.["aws:asset:path"] ?? "missing") }));
}

// `cdk synth` as a user runs it: the CLI, cdk.json, tsx, esbuild bundling, cdk-nag as a validation plugin. The page
// build is faked so this does not depend on `npm run build`.
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "chat-synth-"));
  outdir = join(root, "cdk.out");
  const site = fakeSiteBuild(root);
  const { stdout, stderr } = await run(
    "npx",
    ["cdk", "synth", "--quiet", "--no-notices", "-o", outdir, "-c", `siteAssetsDir=${site}`],
    {
      cwd: repoRoot,
      env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: "true", CDK_DISABLE_VERSION_CHECK: "1", FORCE_COLOR: "0" },
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  synthOutput = `${stdout}\n${stderr}`;
}, 180_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("cdk synth", () => {
  it("synthesizes both stacks with no validation error", () => {
    expect(existsSync(join(outdir, "Chat.template.json"))).toBe(true);
    expect(existsSync(join(outdir, "ChatSite.template.json"))).toBe(true);
    expect(synthOutput).not.toMatch(/ERROR|finished with errors/);
  });

  it("bundles each of the eight handlers as one ES module under 2 MB, with its source map", () => {
    const functions = chatFunctions();
    expect(functions).toHaveLength(8);
    for (const { id, dir } of functions) {
      const bundle = join(dir, "index.mjs");
      expect(existsSync(bundle), id).toBe(true);
      expect(statSync(bundle).size, id).toBeLessThan(MAX_BUNDLE_BYTES);
      expect(existsSync(`${bundle}.map`), id).toBe(true);
    }
  });

  it("makes bundles that plain Node.js loads, top-level await included, with no package installed", async () => {
    const bundles = chatFunctions().map(({ dir }) => join(dir, "index.mjs"));
    // Loading runs each entry's cold start: the routes build their clients; the authorizer and session read the
    // secret only on first use. Nothing is sent anywhere.
    const script = `for (const b of ${JSON.stringify(bundles)}) {
      const m = await import(b);
      if (typeof m.handler !== "function") throw new Error(b + " exports no handler");
    }`;
    await run(process.execPath, ["--input-type=module", "--no-warnings", "-e", script], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        AWS_REGION: "eu-west-1",
        CONNECTIONS_TABLE: "connections",
        HISTORY_TABLE: "history",
        PRESENCE_TABLE: "presence",
        RATES_TABLE: "rates",
        MEMBERS_TABLE: "members",
        CHAT_EVENT_BUS_NAME: "chat-events",
        CHAT_MANAGEMENT_ENDPOINT: "https://abc123.execute-api.eu-west-1.amazonaws.com/prod",
        CHAT_TOKEN_SECRET: "a-test-secret-that-is-long-enough-for-hs256",
      },
    });
  });
});
