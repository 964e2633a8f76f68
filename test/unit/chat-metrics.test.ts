import { afterEach, describe, expect, it, vi } from "vitest";
import {
  chatMetricDimensions,
  chatMetricNames,
  chatMetrics,
  chatMetricsNamespace,
} from "../../lambda/runtime/chat-metrics.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

/** Everything written to stdout and stderr while `run` runs. */
function captureOutput(run: () => void): { stdout: string; stderr: string } {
  const out: string[] = [];
  const err: string[] = [];
  const capture = (into: string[]) => (chunk: unknown) => {
    into.push(String(chunk));
    return true;
  };
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation(capture(out));
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation(capture(err));
  try {
    run();
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return { stdout: out.join(""), stderr: err.join("") };
}

const RESULT = { delivered: 9, gone: 2, connecting: 0, failed: 1, notRemoved: 0 };

describe("broadcast metrics", () => {
  it("publishes deliveries, gone, failed and fan-out time as one EMF line", () => {
    const { stdout } = captureOutput(() => {
      const metrics = chatMetrics();
      metrics.onBroadcast("support", RESULT, 12.5);
      metrics.flushMetrics();
    });
    const emf = JSON.parse(stdout.trim());
    expect(emf).toMatchObject({ deliveries: 9, gone: 2, failed: 1, fanOutMs: 12.5, service: "chat" });
    expect(emf._aws.CloudWatchMetrics[0].Namespace).toBe("Chat");
    expect(emf._aws.CloudWatchMetrics[0].Metrics.map((metric: { Name: string }) => metric.Name)).toEqual(
      Object.values(chatMetricNames),
    );
  });

  it("names exactly the namespace and dimensions it exports, which the dashboard's SEARCH is built from", () => {
    const { stdout } = captureOutput(() => {
      const metrics = chatMetrics();
      metrics.onBroadcast("support", RESULT, 3);
      metrics.flushMetrics();
    });
    const directive = JSON.parse(stdout.trim())._aws.CloudWatchMetrics[0];
    expect(directive.Namespace).toBe(chatMetricsNamespace);
    expect(directive.Dimensions).toEqual([[...chatMetricDimensions]]);
  });

  it("writes nothing, warning included, for 100 frames that broadcast nothing", () => {
    const output = captureOutput(() => {
      const metrics = chatMetrics();
      for (let frame = 0; frame < 100; frame++) metrics.flushMetrics();
    });
    expect(output).toEqual({ stdout: "", stderr: "" });
  });

  it("publishes each broadcast once: a flush after a flush writes nothing more", () => {
    const { stdout, stderr } = captureOutput(() => {
      const metrics = chatMetrics();
      metrics.onBroadcast("support", RESULT, 1);
      metrics.flushMetrics();
      metrics.flushMetrics();
      metrics.onBroadcast("support", RESULT, 2);
      metrics.flushMetrics();
    });
    const lines = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => line.fanOutMs)).toEqual([1, 2]);
    expect(stderr).toBe("");
  });
});
