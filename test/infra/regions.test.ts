import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { App } from "aws-cdk-lib";
import { RegionInfo } from "aws-cdk-lib/region-info";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatStack } from "../../infra/chat-stack.ts";
import { testApp } from "./infra-fixture.ts";

/**
 * The commercial Regions the chat must deploy to, as of this writing (AWS General Reference, "Amazon API Gateway
 * endpoints and quotas"; Secrets Manager, Lambda and DynamoDB are in each). The test covers these and every Region of
 * the `aws` partition that aws-cdk-lib knows, so a Region CDK learns of later is covered without a change here.
 */
const REQUIRED_REGIONS = [
  "us-east-1",
  "us-east-2",
  "us-west-1",
  "us-west-2",
  "af-south-1",
  "ap-east-1",
  "ap-east-2",
  "ap-south-1",
  "ap-south-2",
  "ap-southeast-1",
  "ap-southeast-2",
  "ap-southeast-3",
  "ap-southeast-4",
  "ap-southeast-5",
  "ap-southeast-6",
  "ap-southeast-7",
  "ap-northeast-1",
  "ap-northeast-2",
  "ap-northeast-3",
  "ca-central-1",
  "ca-west-1",
  "eu-central-1",
  "eu-central-2",
  "eu-west-1",
  "eu-west-2",
  "eu-west-3",
  "eu-south-1",
  "eu-south-2",
  "eu-north-1",
  "il-central-1",
  "me-south-1",
  "me-central-1",
  "mx-central-1",
  "sa-east-1",
];

const commercialRegions = [
  ...new Set([...REQUIRED_REGIONS, ...RegionInfo.regions.filter((r) => r.partition === "aws").map((r) => r.name)]),
].sort();

interface CfnTemplate {
  Mappings?: Record<string, unknown>;
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

/** The Chat stack's template for each Region (and for none: `undefined`, what `cdk deploy` sends to any Region). */
const templates = new Map<string | undefined, CfnTemplate>();
let root: string;

// One app, one synth, one stack per Region: the app's setup and the synth's file output are shared, and only the
// Chat stack is built (the site stack has no Region-specific part this test is about, and costs a 21 MB layer copy).
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "chat-regions-"));
  const app: App = testApp(join(root, "cdk.out"));
  const stacks = new Map<string | undefined, ChatStack>();
  stacks.set(undefined, new ChatStack(app, "Chat"));
  for (const region of commercialRegions) {
    stacks.set(region, new ChatStack(app, `Chat-${region}`, { env: { account: "123456789012", region } }));
  }
  const assembly = app.synth();
  for (const [region, stack] of stacks) {
    templates.set(region, assembly.getStackByName(stack.stackName).template as CfnTemplate);
  }
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const functionsOf = (template: CfnTemplate) =>
  Object.values(template.Resources).filter((r) => r.Type === "AWS::Lambda::Function");

describe("the Chat stack in every commercial Region", () => {
  it("covers every Region AWS lists and CDK knows", () => {
    expect(commercialRegions).toEqual(expect.arrayContaining(REQUIRED_REGIONS));
    expect(commercialRegions.length).toBeGreaterThanOrEqual(REQUIRED_REGIONS.length);
    expect(templates.size).toBe(commercialRegions.length + 1);
  });

  it.each<[string, string | undefined]>([
    ["no Region (environment-agnostic)", undefined],
    ...commercialRegions.map((r): [string, string] => [r, r]),
  ])("synthesizes for %s with no Region map and no layer", (_, region) => {
    const template = templates.get(region);
    expect(template).toBeDefined();
    const text = JSON.stringify(template);
    // A Mapping lookup is what fails `cdk deploy` with "Unable to get mapping" in a Region the map lacks.
    expect(template?.Mappings).toBeUndefined();
    expect(text).not.toContain("Fn::FindInMap");
    const functions = functionsOf(template as CfnTemplate);
    expect(functions).toHaveLength(8);
    for (const fn of functions) expect(fn.Properties?.Layers).toBeUndefined();
    expect(text).not.toMatch(/Parameters-and-Secrets/i);
  });

  it("gives the authorizer and session functions the secret's ARN, whatever the Region", () => {
    for (const template of templates.values()) {
      const withArn = functionsOf(template).filter(
        (fn) =>
          (fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables
            ?.CHAT_TOKEN_SECRET_ARN !== undefined,
      );
      expect(withArn).toHaveLength(2);
    }
  });
});
