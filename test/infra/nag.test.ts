import { Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SynthesizedChatApp, synthChatApp } from "./infra-fixture.ts";

let synth: SynthesizedChatApp;

beforeAll(() => {
  synth = synthChatApp();
});
afterAll(() => synth.cleanup());

/** Every acknowledgement recorded in a construct tree, with its reason. */
function acknowledgements(scope: IConstruct): { path: string; id: string; reason: string }[] {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ""),
          reason,
        })),
      ),
  );
}

describe("cdk-nag's AWS Solutions rules", () => {
  it.each(["chat", "site"] as const)("find nothing unacknowledged in the %s stack, errors or warnings", (name) => {
    const report = new AwsSolutionsChecks(synth.app, { verbose: true }).validateScope(synth[name]);
    const findings = report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.description}`);
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it("are acknowledged only with a reason and only for AwsSolutions rules", () => {
    const acknowledged = acknowledgements(synth.app);
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const { path, id, reason } of acknowledged) {
      expect(id, path).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(reason.length, `${path} ${id}`).toBeGreaterThan(40);
    }
  });

  it("are never acknowledged for a whole stack", () => {
    const stackWide = acknowledgements(synth.app).filter(
      ({ path }) => path === synth.chat.node.path || path === synth.site.node.path,
    );
    expect(stackWide).toEqual([]);
  });
});
