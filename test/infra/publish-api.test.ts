import type { CfnElement } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { AwsSolutionsChecks } from "cdk-nag";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatStack } from "../../infra/chat-stack.ts";
import { PUBLISH_PATH } from "../../infra/publish-api.ts";
import { ChatTemplate, functionOfUri } from "./chat-template.ts";
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

const roleOf = (fn: IFunction) => chat.getLogicalId(fn.role?.node.defaultChild as CfnElement);

describe("the publish API", () => {
  it("has one route, POST /channels/{channel}/messages, under IAM authorization, to the publish function", () => {
    const routes = Object.values(template.findResources("AWS::ApiGatewayV2::Route")).filter((route) =>
      flatten(route.Properties.ApiId).includes(q.logicalId(chat.publishApi.api)),
    );
    expect(routes.map((route) => [route.Properties.RouteKey, route.Properties.AuthorizationType])).toEqual([
      [`POST ${PUBLISH_PATH}`, "AWS_IAM"],
    ]);
    const integrationId = /\{(\w+)\}/.exec(flatten(routes[0]?.Properties.Target))?.[1] ?? "";
    const integration = template.findResources("AWS::ApiGatewayV2::Integration")[integrationId];
    expect(functionOfUri(integration?.Properties.IntegrationUri)).toBe(q.logicalId(chat.publishApi.fn));
  });

  it("is an HTTP API of its own without CORS, throttled, with access logs naming the caller", () => {
    const api = template.findResources("AWS::ApiGatewayV2::Api")[q.logicalId(chat.publishApi.api)];
    expect(api?.Properties.ProtocolType).toBe("HTTP");
    expect(api?.Properties.CorsConfiguration).toBeUndefined();
    const stage = template.findResources("AWS::ApiGatewayV2::Stage")[q.logicalId(chat.publishApi.stage)];
    expect(stage?.Properties.StageName).toBe("$default");
    expect(stage?.Properties.DefaultRouteSettings).toMatchObject({
      ThrottlingRateLimit: 50,
      ThrottlingBurstLimit: 100,
    });
    expect(JSON.parse(stage?.Properties.AccessLogSettings.Format)).toMatchObject({
      caller: "$context.identity.userArn",
      status: "$context.status",
    });
  });

  it("outputs PublishUrl and the publisher policy, and is not in the site's config.json", () => {
    const outputs = template.findOutputs("*");
    expect(flatten(outputs.PublishUrl?.Value)).toContain(q.logicalId(chat.publishApi.api));
    expect(flatten(outputs.PublisherPolicyArn?.Value)).toContain(q.logicalId(chat.publishApi.publisherPolicy));
    expect(JSON.stringify(synth.siteTemplate.toJSON())).not.toContain(q.logicalId(chat.publishApi.api));
  });

  it("offers a managed policy allowing execute-api:Invoke on the publish route alone, attached to nothing", () => {
    const policy = template.findResources("AWS::IAM::ManagedPolicy")[q.logicalId(chat.publishApi.publisherPolicy)];
    expect(policy?.Properties.PolicyDocument.Statement).toEqual([
      { Action: "execute-api:Invoke", Effect: "Allow", Resource: expect.anything() },
    ]);
    const resource = flatten(policy?.Properties.PolicyDocument.Statement[0].Resource);
    expect(resource).toMatch(/:execute-api:.*\{\w+\}\/\*\/POST\/channels\/\*\/messages$/);
    expect(resource).toContain(q.logicalId(chat.publishApi.api));
    expect(policy?.Properties.Roles ?? policy?.Properties.Users ?? policy?.Properties.Groups).toBeUndefined();
    expect(q.grantsOf("execute-api:Invoke").roles).toEqual([]);
  });
});

describe("the publish function's grants", () => {
  it("post to connections of the WebSocket stage, as the routes do", () => {
    expect(q.grantsOf("execute-api:ManageConnections").roles).toContain(roleOf(chat.publishApi.fn));
    const fn = template.findResources("AWS::Lambda::Function")[q.logicalId(chat.publishApi.fn)];
    expect(flatten(fn?.Properties.Environment.Variables.CHAT_MANAGEMENT_ENDPOINT)).toContain(
      q.logicalId(chat.webSocket.api),
    );
  });

  it("write the history but never read it, and reach nothing of the token secret or the bus", () => {
    const history = `{${q.logicalId(chat.tables.history)}.Arn}`;
    const publishRole = roleOf(chat.publishApi.fn);
    expect(q.grantsOf("dynamodb:PutItem", history).roles).toContain(publishRole);
    for (const read of ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:Scan"]) {
      expect(q.grantsOf(read, history).roles, read).not.toContain(publishRole);
    }
    expect(q.grantsOf("secretsmanager:GetSecretValue").roles).not.toContain(publishRole);
    expect(q.grantsOf("events:PutEvents").roles).not.toContain(publishRole);
  });

  it("hand large channels to the segment queue and update presence, as the routes do", () => {
    const publishRole = roleOf(chat.publishApi.fn);
    const queue = `{${q.logicalId(chat.broadcastWorkers.queue)}.Arn}`;
    expect(q.grantsOf("sqs:SendMessage", queue).roles).toContain(publishRole);
    const presence = `{${q.logicalId(chat.tables.presence)}.Arn}`;
    expect(q.grantsOf("dynamodb:UpdateItem", presence).roles).toContain(publishRole);
  });
});

describe("cdk-nag", () => {
  it("finds nothing unacknowledged in the publish API", () => {
    const report = new AwsSolutionsChecks(synth.app, { verbose: true }).validateScope(chat.publishApi);
    expect(report.violations.map((v) => `${v.severity} ${v.ruleName}`)).toEqual([]);
  });
});
