import { afterEach, describe, expect, it, vi } from "vitest";
import { chatMetrics } from "../../lambda/runtime/chat-metrics.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("broadcast metrics", () => {
  it("publishes deliveries, gone, failed and fan-out time as one EMF line", () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    const metrics = chatMetrics();
    metrics.onBroadcast("support", { delivered: 9, gone: 2, connecting: 0, failed: 1, notRemoved: 0 }, 12.5);
    metrics.flushMetrics();
    const emf = JSON.parse(lines.join("").trim());
    expect(emf).toMatchObject({ deliveries: 9, gone: 2, failed: 1, fanOutMs: 12.5, service: "chat" });
    expect(emf._aws.CloudWatchMetrics[0].Namespace).toBe("Chat");
    expect(emf._aws.CloudWatchMetrics[0].Metrics.map((metric: { Name: string }) => metric.Name)).toEqual([
      "deliveries",
      "gone",
      "failed",
      "fanOutMs",
    ]);
  });
});
