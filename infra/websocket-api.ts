import { RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import { CfnAuthorizer, LogGroupLogDestination, WebSocketApi, WebSocketStage } from "aws-cdk-lib/aws-apigatewayv2";
import { WebSocketLambdaAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { WebSocketLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type { IGrantable } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { acknowledgeGrantWildcards } from "./nag.ts";
import { WebSocketDomain, type WebSocketDomainOptions } from "./websocket-domain.ts";

/** Properties of {@link ChatWebSocketApi}. */
export interface ChatWebSocketApiProps {
  /** The `$connect` authorizer; it finds the token in the `token` query parameter or among the subprotocols. */
  readonly authorizer: IFunction;
  /** The `$connect` integration. */
  readonly connect: IFunction;
  /** The `$disconnect` integration. */
  readonly disconnect: IFunction;
  /** The `$default` integration: every frame a client sends. */
  readonly message: IFunction;
  /** Name of the stage, the last segment of the WebSocket URL. Default: "prod". */
  readonly stageName?: string;
  /**
   * Steady-state requests per second of the stage, every route together (connects, frames, disconnects), a ceiling
   * on what a flood can cost. Each connection is also limited in the handler (PROTOCOL.md: 20 messages per 10 s).
   * Default: 200.
   */
  readonly throttleRateLimit?: number;
  /** Burst of requests above the rate. Default: 400. */
  readonly throttleBurstLimit?: number;
  /** How long access logs are kept. Default: one month. */
  readonly logRetention?: RetentionDays;
  /** Serve the stage at a host name of your own. Default: only at its execute-api URL. */
  readonly domain?: WebSocketDomainOptions;
}

/**
 * The WebSocket API: `$connect` behind the Lambda authorizer, `$disconnect` and `$default` (two-way) to their
 * functions, one auto-deployed stage with throttling and JSON access logs.
 */
export class ChatWebSocketApi extends Construct {
  /** The API. */
  readonly api: WebSocketApi;
  /** The stage clients connect to. */
  readonly stage: WebSocketStage;
  /**
   * The page's `wsUrl`: `wss://{domainName}` with a custom domain, else
   * `wss://{apiId}.execute-api.{region}.amazonaws.com/{stage}`.
   */
  readonly url: string;
  /**
   * `https://{apiId}.execute-api.{region}.{urlSuffix}/{stage}`: where the functions post to connections, whichever
   * host name the clients connected through.
   */
  readonly managementEndpoint: string;
  /** The custom domain, when one is given. */
  readonly domain?: WebSocketDomain;
  /** The stage's access log group. */
  readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: ChatWebSocketApiProps) {
    super(scope, id);
    const rateLimit = props.throttleRateLimit ?? 200;
    const burstLimit = props.throttleBurstLimit ?? 400;
    if (rateLimit <= 0 || burstLimit <= 0) throw new Error("WebSocket throttle limits must be positive");

    // No identity source: API Gateway would refuse a handshake lacking any source it names (several are ANDed), and
    // the token comes either as `?token=` (seed-style clients) or as a subprotocol beside `chat.v1` (the page, which
    // keeps it out of URLs and logs; docs/protocol.md §3). The authorizer looks in both places.
    const authorizer = new WebSocketLambdaAuthorizer("TokenAuthorizer", props.authorizer, { identitySource: [] });
    this.api = new WebSocketApi(this, "Api", {
      apiName: `${Stack.of(this).stackName}-websocket`,
      description: "Chat WebSocket API",
      connectRouteOptions: {
        integration: new WebSocketLambdaIntegration("Connect", props.connect),
        authorizer,
      },
    });
    // The L2 writes the empty list as it is; the API wants the property left out for "none".
    const cfnAuthorizer = this.api.node.findAll().find((c): c is CfnAuthorizer => c instanceof CfnAuthorizer);
    if (!cfnAuthorizer) throw new Error("the WebSocket API has no authorizer");
    cfnAuthorizer.addPropertyDeletionOverride("IdentitySource");

    const unauthorizedRoutes = [
      this.api.addRoute("$disconnect", { integration: new WebSocketLambdaIntegration("Disconnect", props.disconnect) }),
      // Two-way: the function's result body goes back to the sender as the route response (its answer to every
      // frame), which spares a management call per reply ("Set up route responses for WebSocket APIs in API Gateway").
      this.api.addRoute("$default", {
        integration: new WebSocketLambdaIntegration("Message", props.message),
        returnResponse: true,
      }),
    ];
    for (const route of unauthorizedRoutes) {
      Validations.of(route).acknowledge({
        id: "AwsSolutions-APIG4",
        reason:
          "API Gateway allows a Lambda authorizer on $connect only; $disconnect and $default events exist only for " +
          "a connection whose $connect was authorized, and carry that authorizer's context.",
      });
    }

    this.accessLogs = new LogGroup(this, "AccessLogs", {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new WebSocketStage(this, "Stage", {
      webSocketApi: this.api,
      stageName: props.stageName ?? "prod",
      autoDeploy: true,
      throttle: { rateLimit, burstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        // Neither the query string nor the subprotocol header (either may carry the session token) is logged.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: "$context.requestId",
            time: "$context.requestTimeEpoch",
            eventType: "$context.eventType",
            routeKey: "$context.routeKey",
            connectionId: "$context.connectionId",
            status: "$context.status",
            sourceIp: "$context.identity.sourceIp",
            authorizerStatus: "$context.authorizer.status",
            integrationLatency: "$context.integrationLatency",
            error: "$context.error.message",
          }),
        ),
      },
    });
    // Built from the API id, the stack's Region and its partition's URL suffix (amazonaws.com.cn in China).
    this.managementEndpoint = this.stage.callbackUrl;
    if (props.domain) {
      this.domain = new WebSocketDomain(this, "Domain", { ...props.domain, api: this.api, stage: this.stage });
    }
    this.url = this.domain?.url ?? this.stage.url;
  }

  /** Lets `grantee` post to, close and ask about connections of this stage, and of no other API or stage. */
  grantManageConnections(grantee: IGrantable): void {
    // Narrower than WebSocketApi.grantManageConnections, which allows every stage of the API.
    acknowledgeGrantWildcards(
      grantee,
      this.stage.grantManagementApiAccess(grantee),
      "Connection ids exist only at run time, so the management API grant ends in `@connections/*`; it is fixed " +
        "to this API and this stage, and the `*` before it is the HTTP method (POST to send, DELETE to close, GET to " +
        "ask whether a connection is live).",
    );
  }
}
