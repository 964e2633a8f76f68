import { Duration } from "aws-cdk-lib";
import type { Function as LambdaFunction } from "aws-cdk-lib/aws-lambda";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { limits } from "../lambda/core/limits.ts";
import { ChatFunction, type ChatLogLevel } from "./chat-function.ts";
import type { ChatTables } from "./chat-tables.ts";
import { acknowledgeGrantWildcards } from "./nag.ts";

/** Properties of {@link ChatFunctions}. */
export interface ChatFunctionsProps {
  /** The tables the WebSocket routes read and write. */
  readonly tables: ChatTables;
  /** The token signing key; only the authorizer and the session function may read it. */
  readonly tokenSecret: ISecret;
  /** Session token lifetime, passed as `CHAT_TOKEN_TTL`. Default: `limits.tokenTtlSeconds` (1 hour). */
  readonly tokenTtl?: Duration;
  /** The largest channel, in users, with join and leave notices (`CHAT_PRESENCE_LIMIT`). Default: 100. */
  readonly presenceLimit?: number;
  /**
   * `$default`'s memory in MB. Lambda gives CPU in proportion to memory (one vCPU at 1,769 MB) and bills it by the
   * millisecond, so CPU costs the same at any size below that while waiting on DynamoDB and API Gateway costs in
   * proportion: at 256 MB Lambda and DynamoDB add about 16% to API Gateway's own charge at 10 members, 19% at 1,024 MB
   * (bench/cost.ts), and a 2,000-member channel is posted in about 1.3 s instead of 0.34 s. Default: 256.
   */
  readonly messageMemory?: number;
  /** Powertools log level of every function. Default: "INFO". */
  readonly logLevel?: ChatLogLevel;
  /** How long function logs are kept. Default: one month. */
  readonly logRetention?: RetentionDays;
  /**
   * Where the WebSocket routes hand large channels' segments (sharded fan-out); they get its URL as
   * `SEGMENT_QUEUE_URL` and permission to send. Default: none, every broadcast is posted by the route itself.
   */
  readonly segmentQueue?: IQueue;
}

/** The five chat functions, by the name of their `lambda/entry/` file. */
export type ChatFunctionName = "authorizer" | "connect" | "message" | "disconnect" | "session";

/**
 * The chat's Lambda functions and their data permissions, each granted through the resource's own `grant*` method
 * and only to the functions that need it. The WebSocket routes' permission to post to connections is granted by
 * `ChatWebSocketApi`, which owns the stage it is scoped to.
 */
export class ChatFunctions extends Construct {
  /** `$connect` authorizer: verifies the session token and the channel name. */
  readonly authorizer: LambdaFunction;
  /** `$connect`: stores the connection and announces it. */
  readonly connect: LambdaFunction;
  /** `$default`: every client frame — chat messages, ping, who, history. */
  readonly message: LambdaFunction;
  /** `$disconnect`: removes the connection and announces it. */
  readonly disconnect: LambdaFunction;
  /** `POST /session`: signs a session token for a valid username. */
  readonly session: LambdaFunction;
  /** The same functions by name, for monitoring. */
  readonly all: Readonly<Record<ChatFunctionName, LambdaFunction>>;

  constructor(scope: Construct, id: string, props: ChatFunctionsProps) {
    super(scope, id);
    const { tables, tokenSecret } = props;
    const tokenTtl = props.tokenTtl ?? Duration.seconds(limits.tokenTtlSeconds);
    if (tokenTtl.toSeconds() < 60) throw new Error("tokenTtl must be at least one minute");
    const common = { logLevel: props.logLevel, logRetention: props.logRetention };
    const tableEnv = {
      CONNECTIONS_TABLE: tables.connections.tableName,
      HISTORY_TABLE: tables.history.tableName,
      PRESENCE_TABLE: tables.presence.tableName,
      RATES_TABLE: tables.rates.tableName,
      MEMBERS_TABLE: tables.members.tableName,
      ...(props.presenceLimit ? { CHAT_PRESENCE_LIMIT: String(props.presenceLimit) } : {}),
      ...(props.segmentQueue ? { SEGMENT_QUEUE_URL: props.segmentQueue.queueUrl } : {}),
    };
    // The WebSocket routes answer within API Gateway's 29-second integration timeout or not at all; a broadcast
    // to a large channel is network-bound, and Lambda's network bandwidth grows with memory.
    const route = { ...common, environment: tableEnv, timeout: Duration.seconds(29) };

    this.authorizer = new ChatFunction(this, "Authorizer", {
      ...common,
      entry: "authorizer",
      description: "Chat $connect authorizer: verifies the session token and the channel",
      environment: { CHAT_TOKEN_SECRET_ARN: tokenSecret.secretArn },
    }).fn;
    this.session = new ChatFunction(this, "Session", {
      ...common,
      entry: "session",
      description: "Chat POST /session: signs a session token for a username",
      // In OIDC mode the first request after a cold start may fetch the issuer's discovery document and JWKS (5 s
      // each at most) before it answers: room for both within HTTP API's 30-second integration limit.
      timeout: Duration.seconds(15),
      environment: {
        CHAT_TOKEN_SECRET_ARN: tokenSecret.secretArn,
        CHAT_TOKEN_TTL: String(tokenTtl.toSeconds()),
      },
    }).fn;
    this.connect = new ChatFunction(this, "Connect", {
      ...route,
      entry: "connect",
      description: "Chat $connect: stores the connection and announces it",
      memorySize: 512,
    }).fn;
    this.message = new ChatFunction(this, "Message", {
      ...route,
      entry: "message",
      description: "Chat $default: chat messages, ping, who and history",
      memorySize: props.messageMemory ?? 256,
    }).fn;
    this.disconnect = new ChatFunction(this, "Disconnect", {
      ...route,
      entry: "disconnect",
      description: "Chat $disconnect: removes the connection and announces it",
      memorySize: 512,
    }).fn;

    tokenSecret.grantRead(this.authorizer);
    tokenSecret.grantRead(this.session);
    // Every route writes the connections table: connect stores, disconnect deletes, and all three remove members
    // that answer 410 Gone during a broadcast.
    for (const fn of [this.connect, this.message, this.disconnect]) {
      acknowledgeGrantWildcards(
        fn,
        tables.connections.grantReadWriteData(fn),
        "grantReadWriteData covers the table's indexes as `index/*`; the routes query the byChannel index, the " +
          "table's only one, so the wildcard reaches no other table.",
      );
    }
    // Every route changes presence: connect arrives, disconnect departs, and all three depart members found gone.
    for (const fn of [this.connect, this.message, this.disconnect]) tables.presence.grantReadWriteData(fn);
    // Every route keeps the users' limits: connect holds a connection, disconnect (and any route finding a member
    // gone) lets it go, message takes from the user's rates.
    for (const fn of [this.connect, this.message, this.disconnect]) tables.rates.grantReadWriteData(fn);
    // Private channels: connect lets members in (the first creates the channel), message checks members and lets
    // the owner invite and remove.
    for (const fn of [this.connect, this.message]) tables.members.grantReadWriteData(fn);
    // Any route may fan out to a large channel: connect and disconnect announce, message broadcasts.
    if (props.segmentQueue)
      for (const fn of [this.connect, this.message, this.disconnect]) props.segmentQueue.grantSendMessages(fn);
    // Only chat messages are kept, and only `$default` reads them back (`{"action":"history"}`).
    tables.history.grantReadWriteData(this.message);

    this.all = {
      authorizer: this.authorizer,
      connect: this.connect,
      message: this.message,
      disconnect: this.disconnect,
      session: this.session,
    };
  }
}
