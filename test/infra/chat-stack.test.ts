import { RemovalPolicy } from "aws-cdk-lib";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { ChatStack } from "../../infra/chat-stack.ts";
import {
  chatMetricNames,
  chatMetrics,
  chatMetricsNamespace,
  chatServiceName,
} from "../../lambda/runtime/chat-metrics.ts";
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
    expect(routes.map((r) => r.RouteKey).sort()).toEqual([
      "$connect",
      "$default",
      "$disconnect",
      "POST /channels/{channel}/messages",
      "POST /session",
    ]);
    expect(routes.find((r) => r.RouteKey === "$connect")).toMatchObject({
      AuthorizationType: "CUSTOM",
      AuthorizerId: { Ref: expect.any(String) },
    });
    expect(q.routeTarget("$connect")).toBe(q.fnId("connect"));
    expect(q.routeTarget("$disconnect")).toBe(q.fnId("disconnect"));
    expect(q.routeTarget("$default")).toBe(q.fnId("message"));
  });

  it("makes $default alone two-way: its function's result is sent back to the sender as the route response", () => {
    const routes = template.findResources("AWS::ApiGatewayV2::Route");
    const twoWay = Object.entries(routes).filter(
      ([, r]) => r.Properties.RouteResponseSelectionExpression === "$default",
    );
    expect(twoWay.map(([, r]) => r.Properties.RouteKey)).toEqual(["$default"]);
    const responses = Object.values(template.findResources("AWS::ApiGatewayV2::RouteResponse")).map(
      (r) => r.Properties,
    );
    expect(responses).toEqual([
      { ApiId: expect.anything(), RouteId: { Ref: twoWay[0]?.[0] }, RouteResponseKey: "$default" },
    ]);
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

describe("the management endpoint", () => {
  it("is the execute-api URL of the prod stage, in the environment of every function that posts and no other", () => {
    const functions = template.findResources("AWS::Lambda::Function");
    const endpoint = `https://{${q.logicalId(chat.webSocket.api)}}.execute-api.{AWS::Region}.{AWS::URLSuffix}/prod`;
    for (const name of ["connect", "message", "disconnect", "broadcast-worker"] as const) {
      const env = functions[q.fnId(name)]?.Properties.Environment.Variables;
      expect(flatten(env?.CHAT_MANAGEMENT_ENDPOINT), name).toBe(endpoint);
    }
    for (const name of ["authorizer", "session"] as const) {
      expect(functions[q.fnId(name)]?.Properties.Environment.Variables, name).not.toHaveProperty(
        "CHAT_MANAGEMENT_ENDPOINT",
      );
    }
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
  const alarms = () => Object.values(template.findResources("AWS::CloudWatch::Alarm")).map((a) => a.Properties);

  it("alarms on errors and throttles of the functions, WebSocket failures, session 5xx and dead letters", () => {
    const metrics = alarms()
      .map((a) => `${a.Namespace}/${a.MetricName}`)
      .sort();
    expect(metrics).toEqual(
      [
        ...Array<string>(7).fill("AWS/Lambda/Errors"),
        ...Array<string>(8).fill("AWS/Lambda/Throttles"),
        "AWS/SQS/ApproximateNumberOfMessagesVisible",
        "AWS/SQS/ApproximateNumberOfMessagesVisible",
        "AWS/ApiGateway/IntegrationError",
        "AWS/ApiGateway/ExecutionError",
        "AWS/ApiGateway/5xx",
        "AWS/ApiGateway/5xx",
        `Chat/${chat.stackName}/websocketConnect5xx`,
      ].sort(),
    );
    template.allResourcesProperties("AWS::CloudWatch::Alarm", { TreatMissingData: "notBreaching", Threshold: 1 });
  });

  it("does not alarm on the authorizer's Errors, which count every refused token, but on its throttles", () => {
    const onAuthorizer = alarms().filter((a) =>
      (a.Dimensions as { Value: unknown }[] | undefined)?.some((d) => flatten(d.Value) === `{${q.fnId("authorizer")}}`),
    );
    expect(onAuthorizer.map((a) => a.MetricName)).toEqual(["Throttles"]);
    const withErrorsAlarm = alarms()
      .filter((a) => a.MetricName === "Errors")
      .map((a) => flatten((a.Dimensions as { Value: unknown }[])[0]?.Value))
      .sort();
    const others = (
      ["connect", "message", "disconnect", "session", "broadcast-worker", "publish", "chat-events"] as const
    ).map((name) => `{${q.fnId(name)}}`);
    expect(withErrorsAlarm).toEqual(others.sort());
  });

  it("counts $connect answered with 5xx from the stage's access log, whose lines carry the fields it reads", () => {
    const filters = Object.values(template.findResources("AWS::Logs::MetricFilter")).map((f) => f.Properties);
    expect(filters).toHaveLength(1);
    expect(filters[0]).toMatchObject({
      LogGroupName: { Ref: q.logicalId(chat.webSocket.accessLogs) },
      FilterPattern: '{ ($.eventType = "CONNECT") && ($.status = "5*") }',
      MetricTransformations: [
        { MetricNamespace: `Chat/${chat.stackName}`, MetricName: "websocketConnect5xx", MetricValue: "1" },
      ],
    });
    const stage = Object.values(
      template.findResources("AWS::ApiGatewayV2::Stage", { Properties: { StageName: "prod" } }),
    );
    const format = JSON.parse(String(stage[0]?.Properties.AccessLogSettings.Format));
    expect(format).toMatchObject({ eventType: "$context.eventType", status: "$context.status" });
  });

  it("has a dashboard whose SEARCH expressions use exactly the namespace and dimensions the handlers emit", () => {
    const dashboards = Object.values(template.findResources("AWS::CloudWatch::Dashboard"));
    expect(dashboards).toHaveLength(1);
    expect(flatten(dashboards[0]?.Properties.DashboardName)).toBe("Chat-{AWS::Region}");
    // The body is JSON with deploy-time values spliced in, so its quotes arrive escaped.
    const body = flatten(dashboards[0]?.Properties.DashboardBody);
    const searches = [...body.matchAll(/SEARCH\('\{([^}]*)\} MetricName=\\"(\w+)\\"/g)];
    expect(searches.map((m) => m[2]).sort()).toEqual(Object.values(chatMetricNames).sort());

    // What a handler writes: one broadcast's EMF line, captured from stdout.
    const lines: string[] = [];
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const metrics = chatMetrics();
      metrics.onBroadcast("lobby", { delivered: 1, gone: 0, connecting: 0, failed: 0, notRemoved: 0 }, 1);
      metrics.flushMetrics();
    } finally {
      stdout.mockRestore();
    }
    const directive = JSON.parse(lines.join("").trim())._aws.CloudWatchMetrics[0];
    const [dimensions] = directive.Dimensions as string[][];
    for (const search of searches) {
      const [namespace, ...searchDimensions] = (search[1] ?? "").split(",");
      expect(namespace).toBe(directive.Namespace);
      expect(searchDimensions.sort()).toEqual([...(dimensions ?? [])].sort());
    }
    expect(directive.Metrics.map((m: { Name: string }) => m.Name).sort()).toEqual(searches.map((m) => m[2]).sort());
  });

  it("gives the functions the namespace and service name the dashboard searches", () => {
    template.allResourcesProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_METRICS_NAMESPACE: chatMetricsNamespace,
          POWERTOOLS_SERVICE_NAME: chatServiceName,
        }),
      },
    });
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
  it("limits CORS to the site, may leave the account alone, may destroy the history, sets the presence limit and $default's memory", () => {
    const custom = synthChatApp({
      chat: {
        allowedOrigins: ["https://d111111abcdef8.cloudfront.net"],
        manageApiGatewayAccount: false,
        historyRemovalPolicy: RemovalPolicy.DESTROY,
        presenceLimit: 150,
        messageMemory: 1024,
      },
    });
    try {
      custom.chatTemplate.hasResourceProperties("AWS::ApiGatewayV2::Api", {
        CorsConfiguration: Match.objectLike({ AllowOrigins: ["https://d111111abcdef8.cloudfront.net"] }),
      });
      custom.chatTemplate.resourceCountIs("AWS::ApiGateway::Account", 0);
      const tables = Object.values(custom.chatTemplate.findResources("AWS::DynamoDB::Table"));
      expect(tables.map((t) => t.DeletionPolicy)).toEqual(["Delete", "Delete", "Delete", "Delete", "Delete"]);
      const functions = custom.chatTemplate.findResources("AWS::Lambda::Function");
      const customQ = new ChatTemplate(custom.chatTemplate, custom.chat);
      for (const name of ["connect", "message", "disconnect"] as const) {
        expect(functions[customQ.fnId(name)]?.Properties.Environment.Variables.CHAT_PRESENCE_LIMIT, name).toBe("150");
      }
      expect(functions[customQ.fnId("message")]?.Properties.MemorySize).toBe(1024);
    } finally {
      custom.cleanup();
    }
  });
});
