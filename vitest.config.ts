import { defineConfig } from "vitest/config";

const INTEGRATION = "test/integration/**/*.test.ts";

export default defineConfig({
  test: {
    setupFiles: ["test/setup.ts"],
    // The SDK is pinned in the lock file; its notice that future releases need Node 22 is noise in test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    // Upper bounds for a loaded two-core machine: a passing test takes only as long as its answers do.
    testTimeout: 90_000,
    hookTimeout: 60_000,
    // expect.poll waits for what is asynchronous; its default second is too short on a loaded two-core machine.
    expect: { poll: { timeout: 10_000 } },
    coverage: {
      provider: "v8",
      include: ["lambda/**/*.ts", "local/**/*.ts"],
      reporter: ["text-summary", "text"],
    },
    // The integration suites run twice, once on each local DynamoDB (test/integration/harness.ts reads
    // CHAT_TEST_STORE): dynalite, embedded as `npm start` runs it, and AWS's own DynamoDB Local, which is closer to
    // DynamoDB (TTL, transactions, ReturnValuesOnConditionCheckFailure) but needs Java. The other suites run once.
    projects: [
      {
        extends: true,
        test: { name: "unit and others", include: ["test/**/*.test.ts"], exclude: [INTEGRATION] },
      },
      {
        extends: true,
        test: { name: "integration (dynalite)", include: [INTEGRATION], env: { CHAT_TEST_STORE: "dynalite" } },
      },
      {
        extends: true,
        test: {
          name: "integration (dynamodb-local)",
          include: [INTEGRATION],
          // The emulator's own suite uses no store.
          exclude: ["test/integration/websocket-gateway.test.ts"],
          env: { CHAT_TEST_STORE: "dynamodb-local" },
          globalSetup: ["test/global-setup/dynamodb-local.ts"],
        },
      },
    ],
  },
});
