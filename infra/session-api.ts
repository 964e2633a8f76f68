import { Duration, Stack, Validations } from "aws-cdk-lib";
import { CorsHttpMethod, HttpApi, HttpMethod, type HttpStage } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { Function as LambdaFunction } from "aws-cdk-lib/aws-lambda";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { SESSION_RATE_PER_MINUTE } from "../lambda/core/session-rate.ts";
import { ChatAuth, type ChatAuthOptions } from "./auth.ts";
import { throttledLoggedStage } from "./http-stage.ts";

/** Properties of {@link SessionApi}. */
export interface SessionApiProps {
  /** The `POST /session` function; it gets its sign-in and rate settings as environment variables from here. */
  readonly session: LambdaFunction;
  /** How people sign in. Default: guests (`{ mode: "guest" }`). */
  readonly auth?: ChatAuthOptions;
  /** The rates table, where new sessions are counted per source IP. */
  readonly rates: ITable;
  /** New sessions per minute per source IP (`CHAT_SESSION_RATE`); more get 429. Default: 60. */
  readonly sessionRate?: number;
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
  /** The sign-in: `config.json`'s `auth`, and the origins the page signs in through (for the CSP). */
  readonly auth: ChatAuth;

  constructor(scope: Construct, id: string, props: SessionApiProps) {
    super(scope, id);
    const allowOrigins = props.allowedOrigins ?? ["*"];
    checkAllowedOrigins(allowOrigins);
    const sessionRate = props.sessionRate ?? SESSION_RATE_PER_MINUTE;
    if (!Number.isInteger(sessionRate) || sessionRate < 1) throw new Error("sessionRate must be a positive integer");

    this.auth = new ChatAuth(this, "Auth", props.auth ?? { mode: "guest" });
    for (const [name, value] of Object.entries(this.auth.sessionEnvironment)) props.session.addEnvironment(name, value);
    props.session.addEnvironment("CHAT_SESSION_RATE", String(sessionRate));
    props.session.addEnvironment("RATES_TABLE", props.rates.tableName);
    // One conditional update per session issued (RateStore.take), and only of the session counters: this function
    // answers anyone on the internet, so it may not touch the users' rates or connection holds in the same table.
    props.session.addToRolePolicy(
      new PolicyStatement({
        actions: ["dynamodb:UpdateItem"],
        resources: [props.rates.tableArn],
        conditions: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["session#*"] } },
      }),
    );

    this.api = new HttpApi(this, "Api", {
      apiName: `${Stack.of(this).stackName}-session`,
      description: "Chat session endpoint",
      // Our own stage below, so it can have throttling and access logs.
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins,
        allowMethods: [CorsHttpMethod.POST],
        // OIDC mode sends the ID token as `Authorization: Bearer …`.
        allowHeaders: this.auth.siteAuth.mode === "oidc" ? ["content-type", "authorization"] : ["content-type"],
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
          "POST /session is the sign-in itself, as PROTOCOL.md §2 specifies: in guest mode it trades a valid username " +
          "for a short-lived token, and in OIDC mode the function verifies the ID token itself (issuer, audience, " +
          'expiry) so that refusals are the protocol\'s 401 {"error"}. The stage throttles it, the function limits ' +
          "new sessions per source IP.",
      });
    }

    this.stage = throttledLoggedStage(this, {
      httpApi: this.api,
      throttle: { rateLimit: props.throttleRateLimit ?? 20, burstLimit: props.throttleBurstLimit ?? 40 },
      logRetention: props.logRetention,
      fields: {
        status: "$context.status",
        sourceIp: "$context.identity.sourceIp",
        userAgent: "$context.identity.userAgent",
      },
    });
    this.origin = this.api.apiEndpoint;
    this.url = `${this.origin}/session`;
  }
}
