import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalStack } from "../../local/local-stack.ts";
import type { DeploymentConfig } from "../conformance/context.ts";
import { loadConfig } from "../conformance/load-config.ts";
import { formatResult } from "../conformance/report.ts";
import { runScenario } from "../conformance/scenario.ts";
import { scenarios } from "../conformance/scenarios.ts";
import { startTestStack } from "./harness.ts";

// The conformance suite against the local stack in OIDC mode (CHAT_AUTH=oidc), as `npm run test:deployed` runs it
// against a chat deployed with -c auth=cognito: the OIDC scenario passes, and the scenarios that need guest
// sessions are skipped with their reason.
let stack: LocalStack;
let config: DeploymentConfig;
beforeAll(async () => {
  stack = await startTestStack({ auth: "oidc" });
  config = await loadConfig(stack.url);
});
afterAll(() => stack.close());

describe("the conformance scenarios against the local stack in OIDC mode", () => {
  it("reads the OIDC mode from config.json", () => {
    expect(config.auth).toMatchObject({ mode: "oidc", issuer: `${stack.url}/oidc`, clientId: "chat-local" });
  });

  const inOidcMode = scenarios.filter(
    (scenario) => !scenario.needsGuestSession && (!scenario.onlyInMode || scenario.onlyInMode === "oidc"),
  );
  for (const [index, scenario] of inOidcMode.entries()) {
    it(scenario.name, async () => {
      const result = await runScenario(scenario, config, index + 1);
      expect(result.status, formatResult(result).join("\n")).toBe("passed");
    }, 40_000);
  }

  it("skips the scenarios that need a guest session, saying why", async () => {
    const guestOnly = scenarios.filter((scenario) => scenario.needsGuestSession);
    expect(guestOnly.length).toBeGreaterThan(0);
    const result = await runScenario(guestOnly[0] as (typeof scenarios)[number], config, 99);
    expect(result).toMatchObject({ status: "skipped", reason: expect.stringContaining("OIDC mode") });
  });
});
