import { Duration, Stack, Validations } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { EventBus } from "aws-cdk-lib/aws-events";
import { FilterCriteria, FilterRule, type Function as LambdaFunction, StartingPosition } from "aws-cdk-lib/aws-lambda";
import { SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { chatEventStreams, type StreamTable } from "../lambda/core/chat-events.ts";
import { ChatFunction, type ChatLogLevel } from "./chat-function.ts";

/** Properties of {@link ChatEvents}. */
export interface ChatEventsProps {
  /** The tables whose streams make the events; their streams must be on (`ChatTables` turns them on). */
  readonly tables: Readonly<Record<StreamTable, ITable>>;
  /** Powertools log level. Default: "INFO". */
  readonly logLevel?: ChatLogLevel;
  /** How long the function's logs are kept. Default: one month. */
  readonly logRetention?: RetentionDays;
}

/**
 * How Lambda reads the streams (AWS doc "Using AWS Lambda with Amazon DynamoDB"): batches of up to 100 records, a
 * failing batch split in two until the failing record is alone (bisect), a partial batch response naming the first
 * record not published, retried up to 10 times within 6 hours (the stream keeps records 24 hours), then handed to
 * the on-failure queue with its position in the stream.
 */
export const EVENT_SOURCE_SETTINGS = {
  batchSize: 100,
  retryAttempts: 10,
  maxRecordAge: Duration.hours(6),
} as const;

/**
 * Events out (PROTOCOL §8): the history and presence tables' DynamoDB streams feed one function, which maps each
 * record to a chat event (`lambda/core/chat-events.ts`) and puts it on the chat's EventBridge bus, where backends
 * add rules. The WebSocket routes never wait on, nor fail because of, any of this: they write the tables, and the
 * streams carry the changes on from there.
 */
export class ChatEvents extends Construct {
  /** The bus the events go to; `source` "chat", `detail-type` `member.joined`, `member.left`, `message.sent`. */
  readonly bus: EventBus;
  /** The function reading the streams. */
  readonly fn: LambdaFunction;
  /** Where batches go that failed every retry (their stream positions, to read again within 24 hours). */
  readonly deadLetters: Queue;

  constructor(scope: Construct, id: string, props: ChatEventsProps) {
    super(scope, id);
    this.bus = new EventBus(this, "Bus", {
      eventBusName: `${Stack.of(this).stackName}-events`,
      description: "Chat events: member.joined, member.left, message.sent",
    });
    this.deadLetters = new Queue(this, "DeadLetters", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetters).acknowledge({
      id: "AwsSolutions-SQS3",
      reason:
        "This queue is the dead-letter destination itself: the events function's stream sources send it the batches " +
        "that failed every retry. A queue behind it would have nothing to catch.",
    });
    this.fn = new ChatFunction(this, "Function", {
      entry: "chat-events",
      description: "Chat events: DynamoDB Streams of history and presence to EventBridge",
      environment: {
        CHAT_EVENT_BUS_NAME: this.bus.eventBusName,
        HISTORY_TABLE: props.tables.history.tableName,
        PRESENCE_TABLE: props.tables.presence.tableName,
      },
      // A batch of 100 records is at most 10 PutEvents calls, each retried a few times.
      timeout: Duration.seconds(60),
      logLevel: props.logLevel,
      logRetention: props.logRetention,
    }).fn;
    this.bus.grantPutEventsTo(this.fn);

    const deadLetters = new SqsDlq(this.deadLetters);
    for (const table of ["history", "presence"] as const) {
      const source = props.tables[table];
      const streamArn = source.tableStreamArn;
      if (!streamArn) throw new Error(`the ${table} table has no stream; ChatTables turns it on`);
      this.fn.addEventSourceMapping(`${table === "history" ? "History" : "Presence"}Stream`, {
        eventSourceArn: streamArn,
        startingPosition: StartingPosition.LATEST,
        ...EVENT_SOURCE_SETTINGS,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        onFailure: deadLetters,
        // Only records that can make an event invoke the function (the mapping checks them again): in the history,
        // only channel messages, so direct messages (`type` dm, docs/protocol.md §7) never reach it.
        filters: [
          FilterCriteria.filter({
            eventName: FilterRule.or(...chatEventStreams[table].eventNames),
            ...(table === "history" ? { dynamodb: { NewImage: { type: { S: FilterRule.isEqual("message") } } } } : {}),
          }),
        ],
      });
      // The stream actions Lambda's poller uses, on this stream alone: `DynamoEventSource` would also allow
      // dynamodb:ListStreams on every resource (AWS doc "IAM policy to allow an AWS Lambda function to access
      // DynamoDB stream records" scopes all four to the stream).
      source.grantStream(
        this.fn,
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
      );
    }
  }
}
