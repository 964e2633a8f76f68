import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  ResourceInUseException,
} from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { connectionsTable, historyTable, type KeyAttribute } from "../lambda/core/tables.ts";
import type { Faults } from "./faults.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./local-aws.ts";

/** Table names of one local stack. */
export interface LocalTableNames {
  readonly connections: string;
  readonly history: string;
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
    {
      TableName: names.history,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [attribute(historyTable.partitionKey), attribute(historyTable.sortKey)],
      KeySchema: [
        { AttributeName: historyTable.partitionKey.name, KeyType: "HASH" },
        { AttributeName: historyTable.sortKey.name, KeyType: "RANGE" },
      ],
    },
  ];
}

/**
 * Puts fault injection in front of dynalite's request handler: added latency, and throttling answered exactly as
 * DynamoDB does (400 with the error type in the body), so the SDK classifies and retries it as on AWS.
 */
function injectFaults(server: Server, faults: Faults): void {
  const [handler] = server.listeners("request") as ((request: IncomingMessage, response: ServerResponse) => void)[];
  if (!handler) throw new Error("dynalite has no request handler to wrap");
  server.removeAllListeners("request");
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    void faults.delay("dynamo").then(() => {
      if (!faults.throttleDynamo()) return handler(request, response);
      request.resume();
      const body = JSON.stringify({
        __type: "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        message: "The level of configured provisioned throughput for the table was exceeded (injected)",
      });
      response.writeHead(400, {
        "content-type": "application/x-amz-json-1.0",
        "content-length": Buffer.byteLength(body),
      });
      response.end(body);
    });
  });
}

/** Creates the chat's tables at a DynamoDB-compatible endpoint, keeping those that exist. */
export async function createTables(endpoint: string, names: LocalTableNames): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    for (const input of createTableInputs(names)) {
      await client.send(new CreateTableCommand(input)).catch((error: unknown) => {
        if (!(error instanceof ResourceInUseException)) throw error;
      });
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
