import { RemovalPolicy } from "aws-cdk-lib";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatStack } from "../../infra/chat-stack.ts";
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

describe("the WebSocket API", () => {
  it("routes $connect behind the token authorizer, and $disconnect and $default to their functions", () => {
    const routes = Object.values(template.findResources("AWS::ApiGatewayV2::Route")).map((r) => r.Properties);
    expect(routes.map((r) => r.RouteKey).sort()).toEqual(["$connect", "$default", "$disconnect", "POST /session"]);
    expect(routes.find((r) => r.RouteKey === "$connect")).toMatchObject({
      AuthorizationType: "CUSTOM",
      AuthorizerId: { Ref: expect.any(String) },
    });
    expect(q.routeTarget("$connect")).toBe(q.fnId("connect"));
    expect(q.routeTarget("$disconnect")).toBe(q.fnId("disconnect"));
    expect(q.routeTarget("$default")).toBe(q.fnId("message"));
  });

  it("authorizes with the authorizer function, called for every handshake whichever way the token comes", () => {
    const authorizers = Object.values(template.findResources("AWS::ApiGatewayV2::Authorizer"));
    expect(authorizers).toHaveLength(1);
    expect(authorizers[0]?.Properties.AuthorizerType).toBe("REQUEST");
    // An identity source would make API Gateway refuse, unseen by the function, a handshake that lacks it: the page
    // sends its token as a subprotocol, seed-style clients as `?token=`.
    expect(authorizers[0]?.Properties).not.toHaveProperty("IdentitySource");
    expect(functionOfUri(authorizers[0]?.Properties.AuthorizerUri)).toBe(q.fnId("authorizer"));
  });

  it("deploys the prod stage automatically, throttled, with access logs that leave the token out", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "prod",
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 },
      AccessLogSettings: { DestinationArn: { "Fn::GetAtt": [Match.anyValue(), "Arn"] }, Format: Match.anyValue() },
    });
    const stage = Object.values(
      template.findResources("AWS::ApiGatewayV2::Stage", { Properties: { StageName: "prod" } }),
    );
    const format = String(stage[0]?.Properties.AccessLogSettings.Format);
    expect(JSON.parse(format)).toHaveProperty("requestId", "$context.requestId");
    expect(format).not.toMatch(/querystring|token|header/i);
  });

  it("sets the account's API Gateway logging role, keeps it on destroy, and creates the stage after it", () => {
    const accounts = template.findResources("AWS::ApiGateway::Account");
    expect(Object.keys(accounts)).toHaveLength(1);
    const roleRef = flatten(Object.values(accounts)[0]?.Properties.CloudWatchRoleArn);
    const role = template.findResources("AWS::IAM::Role")[/\{(\w+)\.Arn\}/.exec(roleRef)?.[1] ?? ""];
    expect(role?.DeletionPolicy).toBe("Retain");
    const stage = Object.values(
      template.findResources("AWS::ApiGatewayV2::Stage", { Properties: { StageName: "prod" } }),
    );
    expect(stage[0]?.DependsOn).toContain(Object.keys(accounts)[0]);
  });
});

describe("the session API", () => {
  it("routes POST /session to the session function on a throttled $default stage", () => {
    expect(q.routeTarget("POST /session")).toBe(q.fnId("session"));
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "$default",
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
      AccessLogSettings: Match.objectLike({ Format: Match.anyValue() }),
    });
  });

  it("allows any origin when no site origin is given", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Api", {
      ProtocolType: "HTTP",
      CorsConfiguration: { AllowOrigins: ["*"], AllowMethods: ["POST"], AllowHeaders: ["content-type"] },
    });
  });
});

describe("monitoring", () => {
  it("alarms on errors and throttles of every function, WebSocket integration failures, session 5xx and dead letters", () => {
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm"));
    const metrics = alarms.map((a) => `${a.Properties.Namespace}/${a.Properties.MetricName}`).sort();
    expect(metrics).toEqual(
      [
        ...Array<string>(6).fill("AWS/Lambda/Errors"),
        ...Array<string>(6).fill("AWS/Lambda/Throttles"),
        "AWS/SQS/ApproximateNumberOfMessagesVisible",
        "AWS/ApiGateway/IntegrationError",
        "AWS/ApiGateway/ExecutionError",
        "AWS/ApiGateway/5xx",
      ].sort(),
    );
    template.allResourcesProperties("AWS::CloudWatch::Alarm", { TreatMissingData: "notBreaching", Threshold: 1 });
  });

  it("has a dashboard that shows the fan-out metrics", () => {
    const dashboards = Object.values(template.findResources("AWS::CloudWatch::Dashboard"));
    expect(dashboards).toHaveLength(1);
    expect(flatten(dashboards[0]?.Properties.DashboardName)).toBe("Chat-{AWS::Region}");
    const body = flatten(dashboards[0]?.Properties.DashboardBody);
    for (const name of ["deliveries", "gone", "failed", "fanOutMs"]) expect(body).toContain(`MetricName=\\"${name}\\"`);
  });
});

describe("the outputs", () => {
  it("name the WebSocket URL and the session URL", () => {
    const outputs = template.findOutputs("*");
    const api = q.logicalId(chat.webSocket.api);
    const sessionApi = q.logicalId(chat.sessionApi.api);
    expect(flatten(outputs.WebSocketUrl?.Value)).toBe(`wss://{${api}}.execute-api.{AWS::Region}.{AWS::URLSuffix}/prod`);
    expect(flatten(outputs.SessionUrl?.Value)).toBe(`{${sessionApi}.ApiEndpoint}/session`);
  });
});

describe("with options", () => {
  it("limits CORS to the site, may leave the account alone and may destroy the history", () => {
    const custom = synthChatApp({
      chat: {
        allowedOrigins: ["https://d111111abcdef8.cloudfront.net"],
        manageApiGatewayAccount: false,
        historyRemovalPolicy: RemovalPolicy.DESTROY,
      },
    });
    try {
      custom.chatTemplate.hasResourceProperties("AWS::ApiGatewayV2::Api", {
        CorsConfiguration: Match.objectLike({ AllowOrigins: ["https://d111111abcdef8.cloudfront.net"] }),
      });
      custom.chatTemplate.resourceCountIs("AWS::ApiGateway::Account", 0);
      const tables = Object.values(custom.chatTemplate.findResources("AWS::DynamoDB::Table"));
      expect(tables.map((t) => t.DeletionPolicy)).toEqual(["Delete", "Delete"]);
    } finally {
      custom.cleanup();
    }
  });
});
