import { CfnOutput, type Duration, type RemovalPolicy, Stack, type StackProps, Token } from "aws-cdk-lib";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { ApiGatewayAccount } from "./api-gateway-account.ts";
import type { ChatAuthOptions, SiteAuth } from "./auth.ts";
import { BroadcastWorkers } from "./broadcast-workers.ts";
import type { ChatLogLevel } from "./chat-function.ts";
import { ChatFunctions } from "./chat-functions.ts";
import { ChatTables } from "./chat-tables.ts";
import { ChatEvents } from "./events.ts";
import { ChatMonitoring } from "./monitoring.ts";
import { PublishApi } from "./publish-api.ts";
import { SessionApi } from "./session-api.ts";
import { TokenSecret } from "./token-secret.ts";
import { ChatWebSocketApi } from "./websocket-api.ts";
import { checkWebSocketDomain, type WebSocketDomainOptions } from "./websocket-domain.ts";

/** Properties of {@link ChatStack}. */
export interface ChatStackProps extends StackProps {
  /**
   * Origins allowed to call `POST /session` from a browser. Default: `["*"]` — see `SessionApiProps.allowedOrigins`.
   * The site's CloudFront domain is only known after the site stack exists, which itself needs this stack's URLs, so
   * it cannot be wired in one deployment; `infra/app.ts` takes it from the `siteOrigin` context (docs/deploy.md).
   */
  readonly allowedOrigins?: string[];
  /** What `cdk destroy` does with the chat history. Default: `RemovalPolicy.RETAIN`. */
  readonly historyRemovalPolicy?: RemovalPolicy;
  /** Session token lifetime. Default: 1 hour (`limits.tokenTtlSeconds`). */
  readonly tokenTtl?: Duration;
  /**
   * The largest channel, in users, whose members get "connected"/"disconnected" notices; beyond it none go out, since
   * notices to every member cost about N²/3,600 posts per second. Default: 100 (`limits.presenceNoticeLimit`).
   */
  readonly presenceLimit?: number;
  /** Powertools log level of the functions. Default: "INFO". */
  readonly logLevel?: ChatLogLevel;
  /** How long function and access logs are kept. Default: one month. */
  readonly logRetention?: RetentionDays;
  /**
   * Whether to set the account's API Gateway CloudWatch Logs role, which the WebSocket access logs need. Turn it off
   * when the account already has one and you do not want it replaced. Default: true.
   */
  readonly manageApiGatewayAccount?: boolean;
  /** How people sign in: guests, a Cognito user pool, or another OpenID provider (`infra/auth.ts`). Default: guests. */
  readonly auth?: ChatAuthOptions;
  /** New sessions per minute per source IP; more get 429. Default: 60. */
  readonly sessionRate?: number;
  /** `$default`'s memory in MB; see {@link ChatFunctionsProps.messageMemory}. Default: 256. */
  readonly messageMemory?: number;
  /** Broadcast workers running at once for large channels. Default: 50. */
  readonly broadcastWorkers?: number;
  /**
   * Serve the WebSocket API at a host name of your own (a regional custom domain); the page then connects to
   * `wss://{domainName}`. Default: the API's execute-api URL.
   */
  readonly webSocketDomain?: WebSocketDomainOptions;
}

/**
 * The environment variable that tells every function that posts to connections where API Gateway's management API
 * is: `https://{apiId}.execute-api.{region}.{urlSuffix}/{stage}`. Behind a custom domain an event's `domainName` is
 * that domain, which does not serve `@connections`.
 */
export const MANAGEMENT_ENDPOINT_ENV = "CHAT_MANAGEMENT_ENDPOINT";

/** The URLs the page needs, as `config.json` and the site's CSP carry them. */
export interface ChatEndpoints {
  /** `wss://{apiId}.execute-api.{region}.amazonaws.com/prod`, or `wss://{domain}` with a custom domain. */
  readonly webSocketUrl: string;
  /** `https://…/session` */
  readonly sessionUrl: string;
  /** The origin of `sessionUrl`, for the CSP's connect-src. */
  readonly sessionOrigin: string;
  /** How the page signs in (`config.json`'s `auth`). Default: guests. */
  readonly auth?: SiteAuth;
  /** Origins the page signs in through (the OpenID provider's), for the CSP's connect-src. Default: none. */
  readonly authOrigins?: readonly string[];
}

/**
 * The chat backend: tables, token secret, functions, the WebSocket API (optionally at a custom domain), the session
 * endpoint, alarms and a dashboard. Outputs `WebSocketUrl` and `SessionUrl`, and `WebSocketDomainTarget` when a custom
 * domain is given without a hosted zone.
 */
export class ChatStack extends Stack {
  /** The URLs the page needs. */
  readonly endpoints: ChatEndpoints;
  /** The tables. */
  readonly tables: ChatTables;
  /** The functions. */
  readonly functions: ChatFunctions;
  /** Sharded fan-out: the segment queue and the broadcast worker. */
  readonly broadcastWorkers: BroadcastWorkers;
  /** The WebSocket API. */
  readonly webSocket: ChatWebSocketApi;
  /** The session endpoint. */
  readonly sessionApi: SessionApi;
  /** Alarms and dashboard. */
  readonly monitoring: ChatMonitoring;
  /** The server publish API (PROTOCOL §8), IAM-authorized. */
  readonly publishApi: PublishApi;
  /** Events out: the tables' streams to the EventBridge bus. */
  readonly events: ChatEvents;

  constructor(scope: Construct, id: string, props: ChatStackProps = {}) {
    super(scope, id, props);
    const webSocketDomain =
      props.webSocketDomain &&
      checkWebSocketDomain(props.webSocketDomain, Token.isUnresolved(this.region) ? undefined : this.region);
    this.tables = new ChatTables(this, "Tables", { historyRemovalPolicy: props.historyRemovalPolicy });
    const tokenSecret = new TokenSecret(this, "TokenSecret").secret;
    this.broadcastWorkers = new BroadcastWorkers(this, "BroadcastWorkers", {
      tables: this.tables,
      maxConcurrency: props.broadcastWorkers,
      logLevel: props.logLevel,
      logRetention: props.logRetention,
    });
    this.functions = new ChatFunctions(this, "Functions", {
      tables: this.tables,
      tokenSecret,
      segmentQueue: this.broadcastWorkers.queue,
      tokenTtl: props.tokenTtl,
      presenceLimit: props.presenceLimit,
      messageMemory: props.messageMemory,
      logLevel: props.logLevel,
      logRetention: props.logRetention,
    });
    const fns = this.functions;
    this.publishApi = new PublishApi(this, "PublishApi", {
      tables: this.tables,
      segmentQueue: this.broadcastWorkers.queue,
      presenceLimit: props.presenceLimit,
      logLevel: props.logLevel,
      logRetention: props.logRetention,
    });
    this.events = new ChatEvents(this, "Events", {
      tables: this.tables,
      logLevel: props.logLevel,
      logRetention: props.logRetention,
    });

    this.webSocket = new ChatWebSocketApi(this, "WebSocket", {
      authorizer: fns.authorizer,
      connect: fns.connect,
      disconnect: fns.disconnect,
      message: fns.message,
      logRetention: props.logRetention,
      domain: webSocketDomain,
    });
    if (props.manageApiGatewayAccount ?? true) {
      this.webSocket.stage.node.addDependency(new ApiGatewayAccount(this, "ApiGatewayAccount").account);
    }
    // Every WebSocket route posts: connect and disconnect announce, message broadcasts and replies; the broadcast
    // worker posts the segments of large channels. Each posts to the execute-api endpoint, whatever host the client
    // used (AWS doc "Use @connections commands in your backend service").
    for (const fn of [fns.connect, fns.message, fns.disconnect, this.broadcastWorkers.worker, this.publishApi.fn]) {
      this.webSocket.grantManageConnections(fn);
      fn.addEnvironment(MANAGEMENT_ENDPOINT_ENV, this.webSocket.managementEndpoint);
    }

    this.sessionApi = new SessionApi(this, "SessionApi", {
      session: fns.session,
      auth: props.auth,
      rates: this.tables.rates,
      sessionRate: props.sessionRate,
      allowedOrigins: props.allowedOrigins,
      logRetention: props.logRetention,
    });

    this.monitoring = new ChatMonitoring(this, "Monitoring", {
      functions: {
        ...fns.all,
        "broadcast-worker": this.broadcastWorkers.worker,
        publish: this.publishApi.fn,
        "chat-events": this.events.fn,
      },
      authorizer: "authorizer",
      webSocketAccessLogs: this.webSocket.accessLogs,
      deadLetterQueue: this.broadcastWorkers.deadLetters,
      eventDeadLetterQueue: this.events.deadLetters,
      webSocketStage: this.webSocket.stage,
      sessionStage: this.sessionApi.stage,
      publishStage: this.publishApi.stage,
    });

    this.endpoints = {
      webSocketUrl: this.webSocket.url,
      sessionUrl: this.sessionApi.url,
      sessionOrigin: this.sessionApi.origin,
      auth: this.sessionApi.auth.siteAuth,
      authOrigins: this.sessionApi.auth.connectOrigins,
    };
    new CfnOutput(this, "WebSocketUrl", { value: this.endpoints.webSocketUrl, description: "The page's wsUrl" });
    new CfnOutput(this, "SessionUrl", { value: this.endpoints.sessionUrl, description: "The page's sessionUrl" });
    new CfnOutput(this, "PublishUrl", {
      value: this.publishApi.url,
      description: "Server publish API (IAM): POST {PublishUrl}/channels/{channel}/messages, signed with SigV4",
    });
    new CfnOutput(this, "PublisherPolicyArn", {
      value: this.publishApi.publisherPolicy.managedPolicyArn,
      description: "Attach to a backend's role or user to let it publish",
    });
    new CfnOutput(this, "EventBusName", {
      value: this.events.bus.eventBusName,
      description: "EventBridge bus of member.joined, member.left and message.sent (source: chat)",
    });
    const domain = this.webSocket.domain?.domain;
    if (domain && !webSocketDomain?.hostedZoneId) {
      new CfnOutput(this, "WebSocketDomainTarget", {
        value: domain.regionalDomainName,
        description: `Point ${domain.name} here (CNAME, or an alias to this regional endpoint)`,
      });
    }
  }
}
