import { Match, type Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatFunctionName } from "../../infra/chat-functions.ts";
import type { ChatStack } from "../../infra/chat-stack.ts";
import { limits } from "../../lambda/core/limits.ts";
import { connectionsTable, historyTable, membersTable, presenceTable, ratesTable } from "../../lambda/core/tables.ts";
import { ChatTemplate, type StackFunctionName } from "./chat-template.ts";
import { flatten, type SynthesizedChatApp, synthChatApp } from "./infra-fixture.ts";

let synth: SynthesizedChatApp;
let template: Template;
let chat: ChatStack;
let q: ChatTemplate;

beforeAll(() => {
  synth = synthChatApp();
  ({ chatTemplate: template, chat } = synth);
  q = new ChatTemplate(template, chat);
});
afterAll(() => synth.cleanup());

const ROUTES = ["connect", "message", "disconnect"] as const;

describe("the tables", () => {
  it("key the connections table by connectionId, index it byChannel with only what a broadcast reads", () => {
    const index = connectionsTable.channelIndex;
    expect(index.indexName).toBe("byChannel");
    expect(index.nonKeyAttributes).toEqual(expect.arrayContaining(["username", "expiresAt"]));
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [{ AttributeName: connectionsTable.partitionKey.name, KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
      TimeToLiveSpecification: { AttributeName: connectionsTable.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
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
    });
  });

  it("key the history table by channel and sk, with TTL and point-in-time recovery", () => {
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [
        { AttributeName: historyTable.partitionKey.name, KeyType: "HASH" },
        { AttributeName: historyTable.sortKey.name, KeyType: "RANGE" },
      ],
      BillingMode: "PAY_PER_REQUEST",
      TimeToLiveSpecification: { AttributeName: historyTable.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it("key the presence table by channel and user, with TTL and point-in-time recovery, and no index", () => {
    const table = template.findResources("AWS::DynamoDB::Table")[q.logicalId(chat.tables.presence)];
    expect(table?.Properties).toEqual({
      KeySchema: [
        { AttributeName: presenceTable.partitionKey.name, KeyType: "HASH" },
        { AttributeName: presenceTable.sortKey.name, KeyType: "RANGE" },
      ],
      AttributeDefinitions: [
        { AttributeName: presenceTable.partitionKey.name, AttributeType: "S" },
        { AttributeName: presenceTable.sortKey.name, AttributeType: "S" },
      ],
      BillingMode: "PAY_PER_REQUEST",
      TimeToLiveSpecification: { AttributeName: presenceTable.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      // Events out: a user's first arrival and last departure (infra/events.ts).
      StreamSpecification: { StreamViewType: "KEYS_ONLY" },
    });
  });

  it("destroy the connections, the presence and the rates with the stack but keep the history and members by default", () => {
    const tables = template.findResources("AWS::DynamoDB::Table");
    expect(Object.keys(tables)).toHaveLength(5);
    expect(tables[q.logicalId(chat.tables.connections)]?.DeletionPolicy).toBe("Delete");
    expect(tables[q.logicalId(chat.tables.presence)]?.DeletionPolicy).toBe("Delete");
    expect(tables[q.logicalId(chat.tables.rates)]?.DeletionPolicy).toBe("Delete");
    expect(tables[q.logicalId(chat.tables.history)]?.DeletionPolicy).toBe("Retain");
    expect(tables[q.logicalId(chat.tables.members)]?.DeletionPolicy).toBe("Retain");
  });
});

describe("the functions", () => {
  it("run on Node.js 24 on arm64, as ES module bundles (source maps shipped, not enabled at INFO)", () => {
    template.resourceCountIs("AWS::Lambda::Function", 8);
    template.allResourcesProperties("AWS::Lambda::Function", {
      Runtime: "nodejs24.x",
      Architectures: ["arm64"],
      Handler: "index.handler",
      LoggingConfig: { LogGroup: { Ref: Match.anyValue() } },
      Environment: {
        Variables: Match.objectLike({
          // Source-mapped stack traces cost cold-start time; they are turned on at log level DEBUG only.
          NODE_OPTIONS: Match.absent(),
          POWERTOOLS_SERVICE_NAME: "chat",
          POWERTOOLS_LOG_LEVEL: "INFO",
          POWERTOOLS_METRICS_NAMESPACE: "Chat",
        }),
      },
    });
  });

  it("give $default 256 MB: posting costs the same at any size, waiting costs in proportion (bench/cost.ts)", () => {
    const functions = template.findResources("AWS::Lambda::Function");
    expect(functions[q.fnId("message")]?.Properties.MemorySize).toBe(256);
  });

  it("need no layer and no per-Region mapping: the token key is read from Secrets Manager directly", () => {
    for (const fn of Object.values(template.findResources("AWS::Lambda::Function"))) {
      expect(fn.Properties.Layers).toBeUndefined();
    }
    expect(template.toJSON().Mappings ?? {}).toEqual({});
  });

  it("keep their logs a month and drop them with the stack", () => {
    template.allResourcesProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
    for (const group of Object.values(template.findResources("AWS::Logs::LogGroup"))) {
      expect(group.DeletionPolicy).toBe("Delete");
    }
  });

  it("get the table names and the secret's ARN from the stack", () => {
    const env = (name: StackFunctionName) =>
      template.findResources("AWS::Lambda::Function")[q.fnId(name)]?.Properties.Environment.Variables;
    const secretArn = { Ref: q.logicalId(chat.node.findChild("TokenSecret").node.findChild("Secret")) };
    for (const name of ROUTES) {
      expect(env(name)).toMatchObject({
        CONNECTIONS_TABLE: { Ref: q.logicalId(chat.tables.connections) },
        HISTORY_TABLE: { Ref: q.logicalId(chat.tables.history) },
        PRESENCE_TABLE: { Ref: q.logicalId(chat.tables.presence) },
      });
      expect(env(name)).not.toHaveProperty("CHAT_TOKEN_SECRET_ARN");
      // Unset, the handlers use the default presence limit (limits.presenceNoticeLimit).
      expect(env(name)).not.toHaveProperty("CHAT_PRESENCE_LIMIT");
    }
    expect(env("broadcast-worker")).toMatchObject({
      CONNECTIONS_TABLE: { Ref: q.logicalId(chat.tables.connections) },
      PRESENCE_TABLE: { Ref: q.logicalId(chat.tables.presence) },
    });
    for (const name of ["authorizer", "session"] as const) expect(env(name)).not.toHaveProperty("PRESENCE_TABLE");
    expect(env("authorizer")).toMatchObject({ CHAT_TOKEN_SECRET_ARN: secretArn });
    expect(env("session")).toMatchObject({
      CHAT_TOKEN_SECRET_ARN: secretArn,
      CHAT_TOKEN_TTL: String(limits.tokenTtlSeconds),
    });
  });

  it("have roles of their own with no managed policy, and no policy in the stack allows every resource", () => {
    const roles = template.findResources("AWS::IAM::Role");
    for (const name of Object.keys(chat.functions.all) as ChatFunctionName[]) {
      expect(roles[q.roleId(name)]?.Properties.ManagedPolicyArns).toBeUndefined();
    }
    for (const policy of Object.values(template.findResources("AWS::IAM::Policy"))) {
      for (const statement of policy.Properties.PolicyDocument.Statement as { Resource: unknown }[]) {
        expect([statement.Resource].flat()).not.toContain("*");
      }
    }
  });
});

describe("the permissions", () => {
  it("let only the authorizer and the session function read a generated, long token secret", () => {
    template.hasResourceProperties("AWS::SecretsManager::Secret", {
      GenerateSecretString: { PasswordLength: Match.anyValue(), ExcludePunctuation: true },
    });
    const secret = Object.values(template.findResources("AWS::SecretsManager::Secret"))[0];
    expect(secret?.Properties.GenerateSecretString.PasswordLength).toBeGreaterThanOrEqual(32);

    const { roles, resources } = q.grantsOf("secretsmanager:GetSecretValue");
    expect(roles).toEqual(q.rolesOf("authorizer", "session"));
    expect(resources).toEqual([expect.stringMatching(/^\{TokenSecret\w+\}$/)]);
  });

  it("let the WebSocket routes and the broadcast worker manage connections of this API's prod stage only", () => {
    const { roles, resources } = q.grantsOf("execute-api:ManageConnections");
    expect(roles).toEqual(q.rolesOf(...ROUTES, "broadcast-worker", "publish"));
    expect(resources).toEqual([
      `arn:{AWS::Partition}:execute-api:{AWS::Region}:{AWS::AccountId}:{${q.logicalId(chat.webSocket.api)}}/prod/*/@connections/*`,
    ]);
  });

  it("let the WebSocket routes and the broadcast worker write connections, and only $default the history", () => {
    const writers = (table: { node: { defaultChild?: unknown } }) =>
      q.grantsOf("dynamodb:PutItem", `{${q.logicalId(table)}.Arn}`).roles;
    expect(writers(chat.tables.connections)).toEqual(q.rolesOf(...ROUTES, "broadcast-worker", "publish"));
    expect(writers(chat.tables.history)).toEqual(q.rolesOf("message", "publish"));
  });

  it("let the WebSocket routes and the broadcast worker change presence, and no other function read it", () => {
    const presence = `{${q.logicalId(chat.tables.presence)}.Arn}`;
    for (const action of ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:GetItem"]) {
      expect(q.grantsOf(action, presence).roles, action).toEqual(q.rolesOf(...ROUTES, "broadcast-worker", "publish"));
    }
  });

  it("let the routes, the broadcast worker, the publish and session functions keep the rates and connection holds", () => {
    const rates = `{${q.logicalId(chat.tables.rates)}.Arn}`;
    expect(q.grantsOf("dynamodb:GetItem", rates).roles).toEqual(q.rolesOf(...ROUTES, "broadcast-worker", "publish"));
    expect(q.grantsOf("dynamodb:UpdateItem", rates).roles).toEqual(
      q.rolesOf(...ROUTES, "broadcast-worker", "publish", "session"),
    );
    // The session function answers anyone: it may update the session counters (session#…) and nothing else.
    const sessionStatements = Object.values(template.findResources("AWS::IAM::Policy"))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
      .filter((statement) => flatten(statement.Resource).includes(q.logicalId(chat.tables.rates)))
      .filter((statement) => statement.Condition !== undefined);
    expect(sessionStatements).toEqual([
      expect.objectContaining({
        Action: "dynamodb:UpdateItem",
        Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["session#*"] } },
      }),
    ]);
    for (const name of [...ROUTES, "broadcast-worker"] as const) {
      const fn = template.findResources("AWS::Lambda::Function")[q.fnId(name)];
      expect(flatten(fn?.Properties.Environment.Variables.RATES_TABLE)).toBe(`{${q.logicalId(chat.tables.rates)}}`);
    }
  });

  it("let only $connect and $default read and change private channels' members", () => {
    const members = `{${q.logicalId(chat.tables.members)}.Arn}`;
    for (const action of ["dynamodb:PutItem", "dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:DeleteItem"]) {
      expect(q.grantsOf(action, members).roles, action).toEqual(q.rolesOf("connect", "message"));
    }
  });

  it("key the rates table by key alone, with TTL; the members table by channel and user, kept on destroy", () => {
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [{ AttributeName: ratesTable.partitionKey.name, KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
      TimeToLiveSpecification: { AttributeName: ratesTable.ttlAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [
        { AttributeName: membersTable.partitionKey.name, KeyType: "HASH" },
        { AttributeName: membersTable.sortKey.name, KeyType: "RANGE" },
      ],
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it("let the WebSocket routes send segments, and the worker hand on what it had no time for, with the queue's URL", () => {
    const queue = `{${q.logicalId(chat.broadcastWorkers.queue)}.Arn}`;
    expect(q.grantsOf("sqs:SendMessage", queue).roles).toEqual(q.rolesOf(...ROUTES, "broadcast-worker", "publish"));
    for (const name of [...ROUTES, "broadcast-worker"] as const) {
      const fn = template.findResources("AWS::Lambda::Function")[q.fnId(name)];
      expect(flatten(fn?.Properties.Environment.Variables.SEGMENT_QUEUE_URL)).toBe(
        `{${q.logicalId(chat.broadcastWorkers.queue)}}`,
      );
    }
  });
});

describe("sharded fan-out", () => {
  it("queues segments encrypted, over TLS only, with a dead-letter queue after the shared receive limit (≥ 5)", () => {
    const queueId = q.logicalId(chat.broadcastWorkers.queue);
    const dlqId = q.logicalId(chat.broadcastWorkers.deadLetters);
    const queues = template.findResources("AWS::SQS::Queue");
    expect(queues[queueId]?.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 3600 });
    // AWS's advice for a Lambda event source: maxReceiveCount of at least 5 (doc "Using Lambda with Amazon SQS"); the
    // local stack's queue reads the same limit.
    expect(limits.segmentMaxReceives).toBeGreaterThanOrEqual(5);
    expect(queues[queueId]?.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: { "Fn::GetAtt": [dlqId, "Arn"] },
      maxReceiveCount: limits.segmentMaxReceives,
    });
    expect(queues[dlqId]?.Properties).toMatchObject({ SqsManagedSseEnabled: true });
    const policies = Object.values(template.findResources("AWS::SQS::QueuePolicy")).map((policy) =>
      flatten(policy.Properties),
    );
    // The segment queues, and the events' on-failure queue.
    expect(policies.filter((policy) => policy.includes('"aws:SecureTransport":"false"'))).toHaveLength(3);
  });

  it("keeps a segment invisible for at least six times the worker's timeout", () => {
    const queue = template.findResources("AWS::SQS::Queue")[q.logicalId(chat.broadcastWorkers.queue)];
    const worker = template.findResources("AWS::Lambda::Function")[q.fnId("broadcast-worker")];
    const timeout = worker?.Properties.Timeout as number;
    // The local stack's queue gives its workers the same timeout.
    expect(timeout).toBe(limits.segmentWorkerTimeoutSeconds);
    expect(queue?.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout);
  });

  it("runs the broadcast worker from the queue, one segment per invocation, reporting partial failures", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: q.fnId("broadcast-worker") },
      EventSourceArn: { "Fn::GetAtt": [q.logicalId(chat.broadcastWorkers.queue), "Arn"] },
      BatchSize: 1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 50 },
    });
  });
});
