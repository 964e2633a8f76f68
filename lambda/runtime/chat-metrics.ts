import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { BroadcastResult } from "../core/broadcast.ts";

/** The CloudWatch namespace of the chat's EMF metrics (the functions' `POWERTOOLS_METRICS_NAMESPACE` says the same). */
export const chatMetricsNamespace = "Chat";

/** The `service` dimension's value (`POWERTOOLS_SERVICE_NAME`). */
export const chatServiceName = "chat";

/**
 * The dimension names of every chat metric, in the order EMF lists them. Powertools adds `service` to every metric;
 * there is no channel dimension: channel names are user-chosen, and every distinct dimension value is a billed
 * metric. The dashboard's SEARCH expressions are built from this list: CloudWatch's `{Namespace,dim,…}` matches only
 * metrics with exactly those dimensions (AWS doc "CloudWatch search expression syntax").
 */
export const chatMetricDimensions = ["service"] as const;

/** The metrics published, one data point each per broadcast. */
export const chatMetricNames = {
  deliveries: "deliveries",
  gone: "gone",
  failed: "failed",
  fanOutMs: "fanOutMs",
} as const;

/** Broadcast metrics as CloudWatch EMF lines, written to stdout when flushed. */
export function chatMetrics(
  metrics: Metrics = new Metrics({ namespace: chatMetricsNamespace, serviceName: chatServiceName }),
) {
  return {
    onBroadcast(_channel: string, result: BroadcastResult, durationMs: number): void {
      metrics.addMetric(chatMetricNames.deliveries, MetricUnit.Count, result.delivered);
      metrics.addMetric(chatMetricNames.gone, MetricUnit.Count, result.gone);
      metrics.addMetric(chatMetricNames.failed, MetricUnit.Count, result.failed);
      metrics.addMetric(chatMetricNames.fanOutMs, MetricUnit.Milliseconds, durationMs);
    },
    /**
     * Publishes what `onBroadcast` stored. Most frames broadcast nothing (ping, who, history), and Powertools warns
     * "No application metrics to publish" on every empty flush, so an empty flush does nothing at all.
     */
    flushMetrics(): void {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
  };
}
