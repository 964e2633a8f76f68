import { describe, expect, inject, it } from "vitest";
import { soak } from "../load/soak.ts";
import { testStore } from "./harness.ts";

describe("soak (small)", () => {
  it("delivers 2,000 messages from 100 clients in 20 channels and a user's 3 tabs to every member, none lost or twice, while a user floods its own connections", async () => {
    const dynamoEndpoint = testStore === "dynamodb-local" ? inject("dynamoLocalEndpoint") : undefined;
    const report = await soak({
      clients: 100,
      channels: 20,
      messages: 2_000,
      dynamoEndpoint,
      // In the first channel: a user flooding on two connections of its own until the server has closed one, and a
      // user in three tabs sending 9 messages in all, each tab one a second (the tabs share the user's 20 per 10 s).
      flooder: { connections: 2, window: 8, closes: 1 },
      tabs: { connections: 3, messages: 3, intervalMs: 1_000 },
    });
    expect(report.messagesSent).toBe(2_000);
    expect(report.tabMessagesSent).toBe(9);
    // 1,900 messages in channels of 5; in the first, 100 from its 5 clients and 9 from the tabs reach 5 + 3 members.
    expect(report.deliveriesExpected).toBe(1_900 * 5 + (100 + 9) * 8);
    expect(report).toMatchObject({ lost: 0, duplicated: 0, unexpectedFrames: 0, handlerErrors: 0 });
    // No one but the flooder was refused anything: not the tabs, whose rate is the user's across all three.
    expect(report.errorFramesToOthers).toBe(0);
    expect(report.deliveriesReceived).toBe(report.deliveriesExpected);
    // The flooder really flooded: refused, and closed by the server after 100 refusals on a connection.
    expect(report.flooder?.refused).toBeGreaterThan(100);
    expect(report.flooder?.closedByServer).toBeGreaterThanOrEqual(1);
  }, 240_000);
});
