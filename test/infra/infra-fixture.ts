import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { type ChatAppProps, type ChatAppStacks, createChatApp } from "../../infra/chat-app.ts";
import { repoRoot } from "../../infra/repo-paths.ts";

/** The context of cdk.json (feature flags included), so the tests synthesize what `cdk synth` does. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(repoRoot, "cdk.json"), "utf8")) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

/** A stand-in for `npm run build`'s output, in a temporary folder. */
export function fakeSiteBuild(root: string): string {
  const dir = join(root, "site");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "index.html"), "<!doctype html><title>chat</title>");
  writeFileSync(join(dir, "app.js"), "");
  return dir;
}

/** The synthesized app, its templates, and the temporary folder to remove afterwards. */
export interface SynthesizedChatApp extends ChatAppStacks {
  readonly app: App;
  readonly chatTemplate: Template;
  readonly siteTemplate: Template;
  /** Removes the cloud assembly and the fake build. */
  cleanup(): void;
}

/** Options of {@link synthChatApp}. */
export interface SynthOptions {
  /** Extra context, e.g. to exercise `infra/app-context.ts`. */
  readonly context?: Record<string, unknown>;
  /** Bundling patterns; default none, so no function is bundled (the synth test bundles for real). */
  readonly bundlingStacks?: string[];
  /** Use this folder as the page build instead of a fake one. */
  readonly siteAssetsDir?: string;
}

/** A test App: cdk.json's context, no bundling, no built-in CloudFormation validation, output in a temp folder. */
export function testApp(outdir: string, options: SynthOptions = {}): App {
  return new App({
    outdir,
    // The validator costs over a second per synth and checks what CloudFormation checks anyway at deploy time.
    builtinCloudFormationValidation: false,
    context: {
      ...cdkJsonContext(),
      "aws:cdk:bundling-stacks": options.bundlingStacks ?? [],
      ...options.context,
    },
  });
}

/**
 * Builds the app through `createChatApp` — the same factory `infra/app.ts` uses — synthesizes it once and parses
 * both templates. `propsOrFactory` may build props that need a scope in the app (a certificate). BucketDeployment copies a ~21 MB layer into every assembly, so call `cleanup()` in `afterAll`.
 */
export function synthChatApp(
  propsOrFactory: ChatAppProps | ((app: App) => ChatAppProps) = {},
  options: SynthOptions = {},
): SynthesizedChatApp {
  const root = mkdtempSync(join(tmpdir(), "chat-infra-"));
  const cleanup = () => rmSync(root, { recursive: true, force: true });
  try {
    const app = testApp(join(root, "cdk.out"), options);
    const siteAssetsDir = options.siteAssetsDir ?? fakeSiteBuild(root);
    const props = typeof propsOrFactory === "function" ? propsOrFactory(app) : propsOrFactory;
    const stacks = createChatApp(app, { ...props, site: { siteAssetsDir, ...props.site } });
    const assembly = app.synth();
    const template = (name: string) => Template.fromJSON(assembly.getStackByName(name).template);
    return {
      ...stacks,
      app,
      chatTemplate: template(stacks.chat.stackName),
      siteTemplate: template(stacks.site.stackName),
      cleanup,
    };
  } catch (error) {
    cleanup();
    throw error;
  }
}

/** CloudFormation's `Fn::Join` (and friends) as one readable string, `{Ref}` style, for matching with a regex. */
export function flatten(value: unknown): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(flatten).join(",");
  if (value && typeof value === "object") {
    const [key, arg] = Object.entries(value)[0] ?? [];
    if (key === "Fn::Join" && Array.isArray(arg)) return (arg[1] as unknown[]).map(flatten).join(String(arg[0]));
    if (key === "Ref") return `{${String(arg)}}`;
    if (key === "Fn::GetAtt" && Array.isArray(arg)) return `{${arg.join(".")}}`;
    if (key === "Fn::ImportValue") return `{Import:${flatten(arg)}}`;
    if (key === "Fn::Sub") return flatten(arg);
  }
  return JSON.stringify(value);
}
