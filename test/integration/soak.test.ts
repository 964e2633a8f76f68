import { describe, expect, inject, it } from "vitest";
import { soak } from "../load/soak.ts";
import { testStore } from "./harness.ts";

describe("soak (small)", () => {
  it("delivers 2,000 messages from 100 clients in 20 channels to every member, none lost or twice, no handler error", async () => {
    const dynamoEndpoint = testStore === "dynamodb-local" ? inject("dynamoLocalEndpoint") : undefined;
    const report = await soak({ clients: 100, channels: 20, messages: 2_000, dynamoEndpoint });
    expect(report.messagesSent).toBe(2_000);
    expect(report.deliveriesExpected).toBe(2_000 * 5);
    expect(report).toMatchObject({ lost: 0, duplicated: 0, unexpectedFrames: 0, handlerErrors: 0 });
    expect(report.deliveriesReceived).toBe(report.deliveriesExpected);
  }, 240_000);
});
