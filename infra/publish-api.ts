import { Duration, Stack, Validations } from "aws-cdk-lib";
import { HttpApi, HttpMethod, type HttpRoute, type HttpStage } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpIamAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { type Grant, type IGrantable, ManagedPolicy, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { Function as LambdaFunction } from "aws-cdk-lib/aws-lambda";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { ChatFunction, type ChatLogLevel } from "./chat-function.ts";
import type { ChatTables } from "./chat-tables.ts";
import { throttledLoggedStage } from "./http-stage.ts";
import { acknowledgeGrantWildcards, nagText } from "./nag.ts";

/** The publish route's path (PROTOCOL §8). */
export const PUBLISH_PATH = "/channels/{channel}/messages";

/** Properties of {@link PublishApi}. */
export interface PublishApiProps {
  /** The tables a published message is stored in and delivered through. */
  readonly tables: ChatTables;
  /** Where large channels' segments go (sharded fan-out), as for the WebSocket routes. Default: none. */
  readonly segmentQueue?: IQueue;
  /** The largest channel, in users, with join and leave notices (`CHAT_PRESENCE_LIMIT`). Default: 100. */
  readonly presenceLimit?: number;
  /** Powertools log level of the function. Default: "INFO". */
  readonly logLevel?: ChatLogLevel;
  /** Steady-state requests per second of the stage. Default: 50 — backends, not people, call it. */
  readonly throttleRateLimit?: number;
  /** Burst above the rate. Default: 100. */
  readonly throttleBurstLimit?: number;
  /** How long access and function logs are kept. Default: one month. */
  readonly logRetention?: RetentionDays;
}

/**
 * The server publish API (PROTOCOL §8): an HTTP API of its own with one route, `POST /channels/{channel}/messages`,
 * under IAM authorization. API Gateway checks each request's SigV4 signature and the caller's `execute-api:Invoke`
 * permission before the function runs, so only AWS principals the deployer allows can publish; a request without one
 * gets 403 from API Gateway. No CORS: browsers are not meant to call it. Not in `config.json`; the stack outputs its
 * URL as `PublishUrl` and a managed policy a backend's role can be given.
 */
export class PublishApi extends Construct {
  /**
   * The function behind the route: it stores and delivers as the `$default` route does, so it gets the same table,
   * queue and (from `ChatStack`) management API grants, and the history table's write permission without its reads.
   */
  readonly fn: LambdaFunction;
  /** The API. */
  readonly api: HttpApi;
  /** The publish route. */
  readonly route: HttpRoute;
  /** Its only stage, `$default`. */
  readonly stage: HttpStage;
  /** `https://{apiId}.execute-api.{region}.amazonaws.com`: `{PublishUrl}/channels/{channel}/messages`. */
  readonly url: string;
  /** Allows `execute-api:Invoke` on the publish route and nothing else: attach it to a backend's role or user. */
  readonly publisherPolicy: ManagedPolicy;
  /** The execute-api ARN of POST on every channel's messages path, on any stage: what a publisher may invoke. */
  readonly publishArn: string;

  constructor(scope: Construct, id: string, props: PublishApiProps) {
    super(scope, id);
    const rateLimit = props.throttleRateLimit ?? 50;
    const burstLimit = props.throttleBurstLimit ?? 100;
    if (rateLimit <= 0 || burstLimit <= 0) throw new Error("publish API throttle limits must be positive");
    const { tables } = props;
    this.fn = new ChatFunction(this, "Function", {
      entry: "publish",
      description: "Chat POST /channels/{channel}/messages: a backend's message, stored and delivered",
      environment: {
        CONNECTIONS_TABLE: tables.connections.tableName,
        HISTORY_TABLE: tables.history.tableName,
        PRESENCE_TABLE: tables.presence.tableName,
        RATES_TABLE: tables.rates.tableName,
        MEMBERS_TABLE: tables.members.tableName,
        ...(props.presenceLimit ? { CHAT_PRESENCE_LIMIT: String(props.presenceLimit) } : {}),
        ...(props.segmentQueue ? { SEGMENT_QUEUE_URL: props.segmentQueue.queueUrl } : {}),
      },
      // Within the HTTP API's 30-second integration timeout; a broadcast is network-bound, as in `$default`.
      timeout: Duration.seconds(29),
      memorySize: 1024,
      logLevel: props.logLevel,
      logRetention: props.logRetention,
    }).fn;
    // A broadcast removes members that answer 410 Gone, and they leave the channel's presence.
    acknowledgeGrantWildcards(
      this.fn,
      tables.connections.grantReadWriteData(this.fn),
      "grantReadWriteData covers the table's indexes as `index/*`; the publish function queries the byChannel " +
        "index, the table's only one, so the wildcard reaches no other table.",
    );
    tables.presence.grantReadWriteData(this.fn);
    // Members found gone let go of their users' connection holds; published messages themselves take no rate.
    tables.rates.grantReadWriteData(this.fn);
    tables.history.grantWriteData(this.fn);
    props.segmentQueue?.grantSendMessages(this.fn);

    this.api = new HttpApi(this, "Api", {
      apiName: `${Stack.of(this).stackName}-publish`,
      description: "Chat server publish API (IAM-authorized)",
      createDefaultStage: false,
    });
    const [route] = this.api.addRoutes({
      path: PUBLISH_PATH,
      methods: [HttpMethod.POST],
      integration: new HttpLambdaIntegration("Publish", this.fn),
      authorizer: new HttpIamAuthorizer(),
    });
    if (!route) throw new Error("the publish route was not created");
    this.route = route;

    this.stage = throttledLoggedStage(this, {
      httpApi: this.api,
      throttle: { rateLimit, burstLimit },
      logRetention: props.logRetention,
      fields: {
        path: "$context.path",
        status: "$context.status",
        caller: "$context.identity.userArn",
        sourceIp: "$context.identity.sourceIp",
      },
    });
    this.url = this.api.apiEndpoint;

    this.publishArn = this.api.arnForExecuteApi("POST", "/channels/*/messages");
    this.publisherPolicy = new ManagedPolicy(this, "PublisherPolicy", {
      description: "Publish to the chat's channels: execute-api:Invoke on POST /channels/*/messages only",
      // Narrower than the route's own ARN (`…/POST/channels/*`): the messages path alone, on any stage.
      statements: [new PolicyStatement({ actions: ["execute-api:Invoke"], resources: [this.publishArn] })],
    });
    Validations.of(this.publisherPolicy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagText(this.publisherPolicy, this.publishArn)}]`,
      reason:
        "Channels are named at run time, so the ARN reads `channels/*/messages` (the `{channel}` path parameter); " +
        "the `*` stage is the API's only one, `$default`. Only POST on this one route of this API is allowed.",
    });
  }

  /** Lets `grantee` (a backend's role in this app) publish: `execute-api:Invoke` on the route. */
  grantPublish(grantee: IGrantable): Grant {
    return this.route.grantInvoke(grantee);
  }
}
