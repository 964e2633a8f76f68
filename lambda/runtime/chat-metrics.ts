import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { BroadcastResult } from "../core/broadcast.ts";

/** Broadcast metrics as CloudWatch EMF lines (namespace from `POWERTOOLS_METRICS_NAMESPACE`, default `Chat`). */
export function chatMetrics(metrics: Metrics = new Metrics({ namespace: "Chat", serviceName: "chat" })) {
  return {
    onBroadcast(_channel: string, result: BroadcastResult, durationMs: number): void {
      // No channel dimension: channel names are user-chosen, and every distinct dimension value is a billed metric.
      metrics.addMetric("deliveries", MetricUnit.Count, result.delivered);
      metrics.addMetric("gone", MetricUnit.Count, result.gone);
      metrics.addMetric("failed", MetricUnit.Count, result.failed);
      metrics.addMetric("fanOutMs", MetricUnit.Milliseconds, durationMs);
    },
    flushMetrics(): void {
      metrics.publishStoredMetrics();
    },
  };
}
