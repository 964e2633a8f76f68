import { RemovalPolicy } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import { HttpStage, type IHttpApi, LogGroupLogDestination } from "aws-cdk-lib/aws-apigatewayv2";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";

/** What {@link throttledLoggedStage} makes: the HTTP API's `$default` stage. */
export interface ThrottledLoggedStageProps {
  readonly httpApi: IHttpApi;
  readonly throttle: { rateLimit: number; burstLimit: number };
  /** The access log's retention. Default: one month. */
  readonly logRetention?: RetentionDays;
  /** Access log fields beyond the ones every chat API logs (request id, time, route; response length, latency, error). */
  readonly fields: Record<string, string>;
}

/**
 * An HTTP API's own `$default` stage (the API made with `createDefaultStage: false`), throttled and with JSON access
 * logs in a log group of its own, as `Stage` and `AccessLogs` under `scope`: the session and publish APIs' stages.
 */
export function throttledLoggedStage(scope: Construct, props: ThrottledLoggedStageProps): HttpStage {
  const accessLogs = new LogGroup(scope, "AccessLogs", {
    retention: props.logRetention ?? RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const fields = {
    requestId: "$context.requestId",
    time: "$context.requestTimeEpoch",
    routeKey: "$context.routeKey",
    ...props.fields,
    responseLength: "$context.responseLength",
    integrationLatency: "$context.integrationLatency",
    error: "$context.integrationErrorMessage",
  };
  return new HttpStage(scope, "Stage", {
    httpApi: props.httpApi,
    stageName: "$default",
    autoDeploy: true,
    throttle: props.throttle,
    accessLogSettings: {
      destination: new LogGroupLogDestination(accessLogs),
      format: AccessLogFormat.custom(JSON.stringify(fields)),
    },
  });
}
