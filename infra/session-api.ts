import { Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import { CorsHttpMethod, HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

/** Properties of {@link SessionApi}. */
export interface SessionApiProps {
  /** The `POST /session` function. */
  readonly session: IFunction;
  /**
   * Origins whose pages may call `POST /session` (CORS), e.g. `["https://d111111abcdef8.cloudfront.net"]`.
   * Default: `["*"]`. The endpoint takes no credentials and hands a token to anyone who asks (curl needs no CORS),
   * so "*" gives nothing away; naming the site keeps other pages from using it from a browser.
   */
  readonly allowedOrigins?: string[];
  /** Steady-state requests per second. Default: 20 — a person asks once an hour. */
  readonly throttleRateLimit?: number;
  /** Burst above the rate. Default: 40. */
  readonly throttleBurstLimit?: number;
  /** How long access logs are kept. Default: one month. */
  readonly logRetention?: RetentionDays;
}

/** An origin as CORS and CSP compare it: scheme, host and optional port, nothing after. */
const ORIGIN = /^https?:\/\/[a-z0-9.-]+(:\d+)?$/i;

/** Checks a list of CORS origins; "*" alone or origins without paths. */
export function checkAllowedOrigins(origins: readonly string[]): void {
  if (origins.length === 0) throw new Error("allowedOrigins must name at least one origin (or be '*')");
  if (origins.includes("*")) {
    if (origins.length > 1) throw new Error("allowedOrigins: '*' cannot be combined with other origins");
    return;
  }
  for (const origin of origins) {
    if (!ORIGIN.test(origin)) {
      throw new Error(`allowedOrigins: "${origin}" is not an origin like https://example.com (no path, no slash)`);
    }
  }
}

/**
 * The HTTP API with `POST /session`: the page trades a username for a session token here before it connects.
 * One `$default` stage (so the URL has no stage segment, as PROTOCOL.md shows) with throttling and access logs.
 */
export class SessionApi extends Construct {
  /** The API. */
  readonly api: HttpApi;
  /** Its only stage, `$default`. */
  readonly stage: HttpStage;
  /** `https://{apiId}.execute-api.{region}.amazonaws.com`: what the site's CSP must allow. */
  readonly origin: string;
  /** `{origin}/session`: the page's `sessionUrl`. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: SessionApiProps) {
    super(scope, id);
    const allowOrigins = props.allowedOrigins ?? ["*"];
    checkAllowedOrigins(allowOrigins);

    this.api = new HttpApi(this, "Api", {
      apiName: `${Stack.of(this).stackName}-session`,
      description: "Chat session endpoint",
      // Our own stage below, so it can have throttling and access logs.
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins,
        allowMethods: [CorsHttpMethod.POST],
        allowHeaders: ["content-type"],
        maxAge: Duration.days(1),
      },
    });
    const route = this.api.addRoutes({
      path: "/session",
      methods: [HttpMethod.POST],
      integration: new HttpLambdaIntegration("Session", props.session),
    });
    for (const r of route) {
      Validations.of(r).acknowledge({
        id: "AwsSolutions-APIG4",
        reason:
          "POST /session is the sign-in itself: it trades a valid username for a short-lived token, as PROTOCOL.md §2 " +
          "specifies, so there is nothing to authorize it with. The stage throttles it.",
      });
    }

    const accessLogs = new LogGroup(this, "AccessLogs", {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new HttpStage(this, "Stage", {
      httpApi: this.api,
      stageName: "$default",
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit ?? 20, burstLimit: props.throttleBurstLimit ?? 40 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: "$context.requestId",
            time: "$context.requestTimeEpoch",
            routeKey: "$context.routeKey",
            status: "$context.status",
            sourceIp: "$context.identity.sourceIp",
            userAgent: "$context.identity.userAgent",
            responseLength: "$context.responseLength",
            integrationLatency: "$context.integrationLatency",
            error: "$context.integrationErrorMessage",
          }),
        ),
      },
    });
    this.origin = this.api.apiEndpoint;
    this.url = `${this.origin}/session`;
  }
}
