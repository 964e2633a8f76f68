import { Aws, Duration, Stack } from "aws-cdk-lib";
import type { IHttpStage, IWebSocketStage } from "aws-cdk-lib/aws-apigatewayv2";
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  type Metric,
  Stats,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

/**
 * The EMF metrics the handlers publish in the `Chat` namespace (`POWERTOOLS_METRICS_NAMESPACE`), one data point per
 * broadcast. The dashboard finds them with SEARCH, so whatever dimensions the handlers add, they still show.
 */
export const chatMetricNames = {
  deliveries: "deliveries",
  gone: "gone",
  failed: "failed",
  fanOutMs: "fanOutMs",
} as const;

/** Properties of {@link ChatMonitoring}. */
export interface ChatMonitoringProps {
  /** The chat functions by name (the five of `ChatFunctions`, and the broadcast worker). */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** The broadcast worker's dead-letter queue: a segment there is a broadcast some members never got. */
  readonly deadLetterQueue?: IQueue;
  /** The WebSocket stage. */
  readonly webSocketStage: IWebSocketStage;
  /** The session API's stage. */
  readonly sessionStage: IHttpStage;
  /** Period of every alarm and graph. Default: 5 minutes. */
  readonly period?: Duration;
}

const sum = (metric: Metric, period: Duration): Metric => metric.with({ statistic: Stats.SUM, period });

/** A Chat namespace metric by name, whatever its dimensions, summed over each period. */
const chatSearch = (name: string, label: string, period: Duration, statistic = "Sum"): IMetric =>
  new MathExpression({
    expression: `SEARCH('{Chat} MetricName="${name}"', '${statistic}', ${period.toSeconds()})`,
    label,
    period,
  });

/**
 * Alarms on what needs a person — a function failing or throttled, the WebSocket integration failing, the session
 * endpoint answering 5xx — and one dashboard with traffic, errors, latency and the fan-out metrics. The alarms have
 * no actions: subscribe a topic to them in the console (or extend this construct) once someone is on call.
 */
export class ChatMonitoring extends Construct {
  /** Every alarm, for tests and for adding actions. */
  readonly alarms: Alarm[] = [];
  /** The dashboard. */
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: ChatMonitoringProps) {
    super(scope, id);
    const period = props.period ?? Duration.minutes(5);
    const alarmOn = (alarmId: string, metric: Metric, description: string): void => {
      this.alarms.push(
        new Alarm(this, alarmId, {
          metric: sum(metric, period),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          // No traffic is not a failure.
          treatMissingData: TreatMissingData.NOT_BREACHING,
          alarmDescription: description,
        }),
      );
    };

    const functions = Object.entries(props.functions);
    for (const [name, fn] of functions) {
      alarmOn(`${name}-errors`, fn.metricErrors(), `The chat ${name} function threw (see its log group).`);
      alarmOn(`${name}-throttles`, fn.metricThrottles(), `The chat ${name} function hit its concurrency limit.`);
    }
    const ws = props.webSocketStage;
    alarmOn(
      "websocket-integration-errors",
      ws.metric("IntegrationError"),
      "WebSocket routes answered 4xx/5xx from their Lambda integration.",
    );
    alarmOn("websocket-execution-errors", ws.metric("ExecutionError"), "API Gateway failed to call a WebSocket route.");
    alarmOn("session-5xx", props.sessionStage.metricServerError(), "POST /session answered 5xx.");
    if (props.deadLetterQueue) {
      alarmOn(
        "broadcast-dead-letters",
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible(),
        "A broadcast segment failed three deliveries: some members of a large channel missed a message.",
      );
    }

    const graph = (title: string, left: IMetric[]): GraphWidget => new GraphWidget({ title, left, width: 12 });
    const perFunction = (title: string, metricOf: (fn: IFunction) => Metric, statistic: string): GraphWidget =>
      graph(
        title,
        functions.map(([name, fn]) => metricOf(fn).with({ statistic, period, label: name })),
      );

    this.dashboard = new Dashboard(this, "Dashboard", {
      // Dashboard names are unique per account, across Regions.
      dashboardName: `${Stack.of(this).stackName}-${Aws.REGION}`,
      widgets: [
        [new AlarmStatusWidget({ title: "Alarms", alarms: this.alarms, width: 24 })],
        [
          graph("WebSocket traffic", [
            sum(ws.metric("ConnectCount"), period).with({ label: "connects" }),
            sum(ws.metric("MessageCount"), period).with({ label: "messages (both ways)" }),
          ]),
          graph("WebSocket errors", [
            sum(ws.metric("ClientError"), period).with({ label: "client (4xx before the integration)" }),
            sum(ws.metric("IntegrationError"), period).with({ label: "integration" }),
            sum(ws.metric("ExecutionError"), period).with({ label: "execution" }),
          ]),
        ],
        [
          graph("Fan-out: posts per outcome", [
            chatSearch(chatMetricNames.deliveries, "delivered", period),
            chatSearch(chatMetricNames.gone, "gone (410)", period),
            chatSearch(chatMetricNames.failed, "failed", period),
          ]),
          graph("Fan-out duration (p99 ms)", [chatSearch(chatMetricNames.fanOutMs, "fan-out p99", period, "p99")]),
        ],
        [
          perFunction("Invocations", (fn) => fn.metricInvocations(), Stats.SUM),
          perFunction("Errors", (fn) => fn.metricErrors(), Stats.SUM),
        ],
        [
          perFunction("Duration p99 (ms)", (fn) => fn.metricDuration(), Stats.percentile(99)),
          graph("POST /session", [
            sum(props.sessionStage.metricCount(), period).with({ label: "requests" }),
            sum(props.sessionStage.metricClientError(), period).with({ label: "4xx" }),
            sum(props.sessionStage.metricServerError(), period).with({ label: "5xx" }),
          ]),
        ],
      ],
    });
  }
}
