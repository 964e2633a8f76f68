import type { CfnElement } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatStack } from "../../infra/chat-stack.ts";
import { EVENT_SOURCE_SETTINGS } from "../../infra/events.ts";
import { chatEventStreams } from "../../lambda/core/chat-events.ts";
import { ChatTemplate } from "./chat-template.ts";
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

const eventsRole = () => chat.getLogicalId(chat.events.fn.role?.node.defaultChild as CfnElement);

describe("events out", () => {
  it("turn on the streams the mapping needs: the history's new items, the presence's keys", () => {
    const tables = template.findResources("AWS::DynamoDB::Table");
    expect(tables[q.logicalId(chat.tables.history)]?.Properties.StreamSpecification).toEqual({
      StreamViewType: chatEventStreams.history.viewType,
    });
    expect(tables[q.logicalId(chat.tables.presence)]?.Properties.StreamSpecification).toEqual({
      StreamViewType: chatEventStreams.presence.viewType,
    });
    expect(tables[q.logicalId(chat.tables.connections)]?.Properties.StreamSpecification).toBeUndefined();
  });

  it("read both streams in the events function: batches, bisect, partial batch responses, an on-failure queue", () => {
    const mappings = Object.values(template.findResources("AWS::Lambda::EventSourceMapping"))
      .map((m) => m.Properties)
      .filter((m) => flatten(m.FunctionName) === `{${q.logicalId(chat.events.fn)}}`);
    const sources = mappings.map((m) => flatten(m.EventSourceArn)).sort();
    expect(sources).toEqual(
      [`{${q.logicalId(chat.tables.history)}.StreamArn}`, `{${q.logicalId(chat.tables.presence)}.StreamArn}`].sort(),
    );
    for (const mapping of mappings) {
      expect(mapping).toMatchObject({
        StartingPosition: "LATEST",
        BatchSize: EVENT_SOURCE_SETTINGS.batchSize,
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
        MaximumRetryAttempts: EVENT_SOURCE_SETTINGS.retryAttempts,
        MaximumRecordAgeInSeconds: EVENT_SOURCE_SETTINGS.maxRecordAge.toSeconds(),
      });
      expect(flatten(mapping.DestinationConfig.OnFailure.Destination)).toBe(
        `{${q.logicalId(chat.events.deadLetters)}.Arn}`,
      );
    }
  });

  it("invoke the function only for the records that can make an event", () => {
    const mappings = Object.values(template.findResources("AWS::Lambda::EventSourceMapping")).map((m) => m.Properties);
    const filterOf = (table: "history" | "presence") => {
      const mapping = mappings.find((m) => flatten(m.EventSourceArn).includes(q.logicalId(chat.tables[table])));
      return JSON.parse(mapping?.FilterCriteria.Filters[0].Pattern);
    };
    // Channel messages only: a direct message (type dm) never invokes the function.
    expect(filterOf("history")).toEqual({
      eventName: ["INSERT"],
      dynamodb: { NewImage: { type: { S: ["message"] } } },
    });
    expect(filterOf("presence")).toEqual({ eventName: ["INSERT", "REMOVE"] });
  });

  it("put events on a bus of the chat's own, and only the events function may", () => {
    const bus = template.findResources("AWS::Events::EventBus")[q.logicalId(chat.events.bus)];
    expect(bus?.Properties.Name).toBe(`${chat.stackName}-events`);
    const { roles, resources } = q.grantsOf("events:PutEvents");
    expect(roles).toEqual([eventsRole()]);
    expect(resources).toEqual([`{${q.logicalId(chat.events.bus)}.Arn}`]);
    expect(flatten(template.findOutputs("EventBusName").EventBusName?.Value)).toBe(`{${q.logicalId(chat.events.bus)}}`);
  });

  it("give the events function the streams and nothing of the tables' items, the sockets or the secret", () => {
    const role = eventsRole();
    for (const table of [chat.tables.history, chat.tables.presence]) {
      expect(q.grantsOf("dynamodb:GetRecords", `{${q.logicalId(table)}.StreamArn}`).roles).toEqual([role]);
    }
    for (const action of ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]) {
      expect(q.grantsOf(action).roles, action).not.toContain(role);
    }
    expect(q.grantsOf("execute-api:ManageConnections").roles).not.toContain(role);
    expect(q.grantsOf("secretsmanager:GetSecretValue").roles).not.toContain(role);
    expect(q.grantsOf("sqs:SendMessage", `{${q.logicalId(chat.events.deadLetters)}.Arn}`).roles).toEqual([role]);
  });

  it("alarm on a batch in the on-failure queue and on the publish API's 5xx", () => {
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm")).map((a) => a.Properties);
    const onDeadLetters = alarms.filter((a) =>
      (a.Dimensions as { Value: unknown }[] | undefined)?.some(
        (d) => flatten(d.Value) === `{${q.logicalId(chat.events.deadLetters)}.QueueName}`,
      ),
    );
    expect(onDeadLetters.map((a) => a.MetricName)).toEqual(["ApproximateNumberOfMessagesVisible"]);
    const on5xx = alarms.filter(
      (a) =>
        a.MetricName === "5xx" &&
        (a.Dimensions as { Value: unknown }[]).some(
          (d) => flatten(d.Value) === `{${q.logicalId(chat.publishApi.api)}}`,
        ),
    );
    expect(on5xx).toHaveLength(1);
  });

  it("are clean under cdk-nag", () => {
    const report = new AwsSolutionsChecks(synth.app, { verbose: true }).validateScope(chat.events);
    expect(report.violations.map((v) => `${v.severity} ${v.ruleName}`)).toEqual([]);
  });
});
