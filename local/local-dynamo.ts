import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import {
  connectionsTable,
  historyTable,
  type KeyAttribute,
  membersTable,
  presenceTable,
  ratesTable,
} from "../lambda/core/tables.ts";
import { withDynamoFaults } from "./dynamo-faults.ts";
import type { Faults } from "./faults.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./local-aws.ts";

/** Table names of one local stack. */
export interface LocalTableNames {
  readonly connections: string;
  readonly history: string;
  readonly presence: string;
  readonly rates: string;
  readonly members: string;
}

const attribute = (key: KeyAttribute) => ({ AttributeName: key.name, AttributeType: key.type });

/** CreateTable inputs made from the shared schema (the same one CDK deploys). */
export function createTableInputs(names: LocalTableNames): CreateTableCommandInput[] {
  const index = connectionsTable.channelIndex;
  return [
    {
      TableName: names.connections,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [attribute(connectionsTable.partitionKey), attribute(index.partitionKey)],
      KeySchema: [{ AttributeName: connectionsTable.partitionKey.name, KeyType: "HASH" }],
      GlobalSecondaryIndexes: [
        {
          IndexName: index.indexName,
          KeySchema: [
            { AttributeName: index.partitionKey.name, KeyType: "HASH" },
            { AttributeName: index.sortKey.name, KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "INCLUDE", NonKeyAttributes: [...index.nonKeyAttributes] },
        },
      ],
    },
    keyedTable(names.history, historyTable),
    keyedTable(names.presence, presenceTable),
    keyedTable(names.members, membersTable),
    {
      TableName: names.rates,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [attribute(ratesTable.partitionKey)],
      KeySchema: [{ AttributeName: ratesTable.partitionKey.name, KeyType: "HASH" }],
    },
  ];
}

/** A table with a partition and a sort key and no index. */
function keyedTable(
  tableName: string,
  schema: { partitionKey: KeyAttribute; sortKey: KeyAttribute },
): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [attribute(schema.partitionKey), attribute(schema.sortKey)],
    KeySchema: [
      { AttributeName: schema.partitionKey.name, KeyType: "HASH" },
      { AttributeName: schema.sortKey.name, KeyType: "RANGE" },
    ],
  };
}

/** Puts the faults in front of dynalite's own request handler. */
function injectFaults(server: Server, faults: Faults): void {
  const [handler] = server.listeners("request") as ((request: IncomingMessage, response: ServerResponse) => void)[];
  if (!handler) throw new Error("dynalite has no request handler to wrap");
  server.removeAllListeners("request");
  server.on("request", withDynamoFaults(handler, faults));
}

/** How long `createTables` waits for new tables to become ACTIVE (DynamoDB itself takes seconds to a minute). */
const TABLE_ACTIVE_TIMEOUT_MS = 120_000;

/** Waits until the table and its indexes are ACTIVE: dynalite and DynamoDB Local are at once, DynamoDB is not. */
async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  const deadline = Date.now() + TABLE_ACTIVE_TIMEOUT_MS;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexes = Table?.GlobalSecondaryIndexes ?? [];
    if (Table?.TableStatus === "ACTIVE" && indexes.every((index) => index.IndexStatus === "ACTIVE")) return;
    if (Date.now() > deadline) throw new Error(`table ${tableName} is not ACTIVE after ${TABLE_ACTIVE_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Turns on TTL as CDK deploys it, where the store has it (DynamoDB Local does; dynalite answers
 * `UnknownOperationException`, and the stores filter expired items on read anyway).
 */
async function enableTtl(client: DynamoDBClient, tableName: string, attributeName: string): Promise<void> {
  const { TimeToLiveDescription } = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  if (TimeToLiveDescription?.TimeToLiveStatus !== "DISABLED") return; // on, or being turned on, already
  await client
    .send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: attributeName, Enabled: true },
      }),
    )
    .catch((error: unknown) => {
      if ((error as { name?: string }).name !== "UnknownOperationException") throw error;
    });
}

/** Options of `createTables`. */
export interface CreateTablesOptions {
  /**
   * Turn on TTL as deployed. DynamoDB Local then deletes expired items within moments, so a test writing with a fixed
   * clock in the past turns it off. Default: true.
   */
  readonly ttl?: boolean;
}

/**
 * Creates the chat's tables at a DynamoDB-compatible endpoint, keeping those that exist, waits until they are ACTIVE
 * and turns on TTL where the store supports it.
 */
export async function createTables(
  endpoint: string,
  names: LocalTableNames,
  options: CreateTablesOptions = {},
): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    for (const input of createTableInputs(names)) {
      await client.send(new CreateTableCommand(input)).catch((error: unknown) => {
        if (!(error instanceof ResourceInUseException)) throw error;
      });
    }
    for (const [tableName, ttlAttribute] of [
      [names.connections, connectionsTable.ttlAttribute],
      [names.history, historyTable.ttlAttribute],
      [names.presence, presenceTable.ttlAttribute],
      [names.rates, ratesTable.ttlAttribute],
    ] as const) {
      await waitUntilActive(client, tableName);
      if (options.ttl ?? true) await enableTtl(client, tableName, ttlAttribute);
    }
  } finally {
    client.destroy();
  }
}

/** A running local DynamoDB-compatible store. */
export interface LocalDynamo {
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * Starts dynalite on loopback, in memory or in `dataDir`, and creates the chat's tables (kept when they exist on disk).
 * dynalite has no TTL expiry; the stores filter expired items on read, so nothing here needs it.
 */
export async function startLocalDynamo(
  names: LocalTableNames,
  dataDir?: string,
  faults?: Faults,
): Promise<LocalDynamo> {
  // createTableMs: 0, or a write right after CreateTable fails with ResourceNotFoundException.
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(dataDir ? { path: dataDir } : {}),
  });
  if (faults) injectFaults(server, faults);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await createTables(endpoint, names);
  return {
    endpoint,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error?: Error) => (error ? reject(error) : resolve()));
        // The SDK keeps sockets alive; without this, close would wait for them to time out.
        server.closeAllConnections();
      }),
  };
}
