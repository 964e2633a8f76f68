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
import { FilterPattern, type ILogGroup, MetricFilter } from "aws-cdk-lib/aws-logs";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { chatMetricDimensions, chatMetricNames, chatMetricsNamespace } from "../lambda/runtime/chat-metrics.ts";

/** Properties of {@link ChatMonitoring}. */
export interface ChatMonitoringProps {
  /**
   * The chat functions by name (the five of `ChatFunctions`, and the broadcast worker). Each gets an alarm on its
   * throttles, and each but `authorizer` one on its errors.
   */
  readonly functions: Readonly<Record<string, IFunction>>;
  /**
   * Which of `functions` is the `$connect` Lambda authorizer: its refusals are Lambda errors, so its real failures are
   * found in `webSocketAccessLogs` instead (see below).
   */
  readonly authorizer: string;
  /**
   * The WebSocket stage's JSON access logs, whose lines carry `eventType` and `status` (`$context.eventType`,
   * `$context.status`).
   */
  readonly webSocketAccessLogs: ILogGroup;
  /** The broadcast worker's dead-letter queue: a segment there is a broadcast some members never got. */
  readonly deadLetterQueue?: IQueue;
  /** The events function's on-failure queue: a batch there is chat events the bus never got. */
  readonly eventDeadLetterQueue?: IQueue;
  /** The publish API's stage: a 5xx there is a backend's message that failed on our side. */
  readonly publishStage?: IHttpStage;
  /** The WebSocket stage. */
  readonly webSocketStage: IWebSocketStage;
  /** The session API's stage. */
  readonly sessionStage: IHttpStage;
  /** Period of every alarm and graph. Default: 5 minutes. */
  readonly period?: Duration;
}

const sum = (metric: Metric, period: Duration): Metric => metric.with({ statistic: Stats.SUM, period });

/**
 * The schema the handlers' EMF metrics are published in: `{Chat,service}`. A SEARCH schema matches only metrics with
 * exactly these dimension names — `{Chat}` alone finds only dimensionless metrics (AWS doc "CloudWatch search
 * expression syntax") — so it is built from the constants lambda/runtime/chat-metrics.ts publishes with.
 */
export const chatMetricSchema = `{${[chatMetricsNamespace, ...chatMetricDimensions].join(",")}}`;

/** A chat EMF metric by name, every value of its dimensions, with `statistic` over each period. */
const chatSearch = (name: string, label: string, period: Duration, statistic = "Sum"): IMetric =>
  new MathExpression({
    expression: `SEARCH('${chatMetricSchema} MetricName="${name}"', '${statistic}', ${period.toSeconds()})`,
    label,
    period,
  });

/**
 * A `$connect` that API Gateway answered with a 5xx, from the stage's access log: the authorizer crashed, timed out
 * or failed, or the connect integration did. Refusals are 401 (missing or invalid token) and 403 (Deny).
 */
export const connectServerErrorPattern = FilterPattern.all(
  FilterPattern.stringValue("$.eventType", "=", "CONNECT"),
  FilterPattern.stringValue("$.status", "=", "5*"),
);

/**
 * Alarms on what needs a person — a function failing or throttled, a WebSocket handshake or integration failing, the
 * session endpoint answering 5xx, a broadcast dead-lettered; never a refused token — and one dashboard with traffic, errors, latency and the fan-out metrics. The alarms have
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
    if (!props.functions[props.authorizer]) throw new Error(`the authorizer "${props.authorizer}" is not a function`);
    for (const [name, fn] of functions) {
      // A Lambda authorizer refuses a token by throwing "Unauthorized", which API Gateway turns into 401 and Lambda
      // counts in `Errors` like any failed invocation (AWS docs "Use API Gateway Lambda authorizers" and "Types of
      // metrics for Lambda functions"): an `Errors` alarm on it would fire on every expired token. Its real failures
      // are the `$connect` 5xx below.
      if (name !== props.authorizer) {
        alarmOn(`${name}-errors`, fn.metricErrors(), `The chat ${name} function threw (see its log group).`);
      }
      alarmOn(`${name}-throttles`, fn.metricThrottles(), `The chat ${name} function hit its concurrency limit.`);
    }
    // Per-stack namespace: a dimensionless metric of the same name in another stack of the account and Region would
    // otherwise be counted here too.
    const connect5xx = new MetricFilter(this, "Connect5xx", {
      logGroup: props.webSocketAccessLogs,
      filterPattern: connectServerErrorPattern,
      metricNamespace: `${chatMetricsNamespace}/${Stack.of(this).stackName}`,
      metricName: "websocketConnect5xx",
      metricValue: "1",
    });
    alarmOn(
      "websocket-connect-5xx",
      connect5xx.metric(),
      "A WebSocket handshake failed with 5xx: the authorizer or the $connect function failed (not a refused token).",
    );
    const ws = props.webSocketStage;
    alarmOn(
      "websocket-integration-errors",
      ws.metric("IntegrationError"),
      "WebSocket routes answered 4xx/5xx from their Lambda integration.",
    );
    alarmOn("websocket-execution-errors", ws.metric("ExecutionError"), "API Gateway failed to call a WebSocket route.");
    alarmOn("session-5xx", props.sessionStage.metricServerError(), "POST /session answered 5xx.");
    if (props.publishStage) {
      alarmOn("publish-5xx", props.publishStage.metricServerError(), "POST /channels/{channel}/messages answered 5xx.");
    }
    if (props.eventDeadLetterQueue) {
      alarmOn(
        "event-dead-letters",
        props.eventDeadLetterQueue.metricApproximateNumberOfMessagesVisible(),
        "A batch of chat events failed every retry: its stream records are in the queue, to replay within 24 hours.",
      );
    }
    if (props.deadLetterQueue) {
      alarmOn(
        "broadcast-dead-letters",
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible(),
        "A broadcast segment failed every delivery: some members of a large channel missed a message.",
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
            sum(connect5xx.metric(), period).with({ label: "$connect 5xx" }),
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
