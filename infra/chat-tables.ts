import { RemovalPolicy } from "aws-cdk-lib";
import {
  type Attribute,
  AttributeType,
  BillingMode,
  ProjectionType,
  StreamViewType,
  Table,
} from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import { chatEventStreams } from "../lambda/core/chat-events.ts";
import {
  connectionsTable,
  historyTable,
  type KeyAttribute,
  membersTable,
  presenceTable,
  ratesTable,
} from "../lambda/core/tables.ts";

/** Properties of {@link ChatTables}. */
export interface ChatTablesProps {
  /**
   * What `cdk destroy` does with the history and members tables. The connections table is always destroyed: its items describe
   * sockets that die with the API.
   * Default: `RemovalPolicy.RETAIN` — the history is what users wrote, so deleting it takes a decision of its own.
   */
  readonly historyRemovalPolicy?: RemovalPolicy;
}

/** The schema's key attribute as CDK spells it. */
const attribute = (key: KeyAttribute): Attribute => ({
  name: key.name,
  type: key.type === "S" ? AttributeType.STRING : AttributeType.NUMBER,
});

/**
 * The chat's DynamoDB tables, built from the schema in `lambda/core/tables.ts` (the one place key names live):
 * on-demand capacity (chat traffic is bursty and mostly idle), TTL on `expiresAt`, point-in-time recovery on.
 */
export class ChatTables extends Construct {
  /** connectionId → channel, username, expiresAt; the `byChannel` index lists a channel's members. */
  readonly connections: Table;
  /** channel + sk → the channel's recent messages. */
  readonly history: Table;
  /** channel + user → that user's connections in the channel, and each channel's count of present users. */
  readonly presence: Table;
  /** Rate counters by key and window, and each user's live connections (PROTOCOL v2's per-user limits). */
  readonly rates: Table;
  /** Private channels' owners and members (PROTOCOL v2 §7). */
  readonly members: Table;

  constructor(scope: Construct, id: string, props: ChatTablesProps = {}) {
    super(scope, id);
    this.connections = new Table(this, "Connections", {
      partitionKey: attribute(connectionsTable.partitionKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: connectionsTable.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const index = connectionsTable.channelIndex;
    this.connections.addGlobalSecondaryIndex({
      indexName: index.indexName,
      partitionKey: attribute(index.partitionKey),
      sortKey: attribute(index.sortKey),
      projectionType: ProjectionType.INCLUDE,
      nonKeyAttributes: [...index.nonKeyAttributes],
    });

    this.history = new Table(this, "History", {
      partitionKey: attribute(historyTable.partitionKey),
      sortKey: attribute(historyTable.sortKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: historyTable.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.historyRemovalPolicy ?? RemovalPolicy.RETAIN,
      // Events out: each message stored becomes `message.sent` (infra/events.ts).
      stream: StreamViewType[chatEventStreams.history.viewType],
    });

    this.presence = new Table(this, "Presence", {
      partitionKey: attribute(presenceTable.partitionKey),
      sortKey: attribute(presenceTable.sortKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: presenceTable.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Events out: a user's item created or deleted becomes `member.joined` or `member.left` (infra/events.ts).
      stream: StreamViewType[chatEventStreams.presence.viewType],
      // Like the connections it counts, presence means nothing without the API.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.members = new Table(this, "Members", {
      partitionKey: attribute(membersTable.partitionKey),
      sortKey: attribute(membersTable.sortKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Who may read a private channel is the deployer's data, like the history it guards.
      removalPolicy: props.historyRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.rates = new Table(this, "Rates", {
      partitionKey: attribute(ratesTable.partitionKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: ratesTable.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Counters of the last minutes and live connections: nothing to keep without the API.
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}
