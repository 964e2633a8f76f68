import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { DeleteCommand, DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Participant } from "../../lambda/core/chat.ts";
import { createConnectHandler } from "../../lambda/handlers/connect.ts";
import { createDisconnectHandler } from "../../lambda/handlers/disconnect.ts";
import { createMessageHandler } from "../../lambda/handlers/message.ts";
import type { WebSocketHandlerDeps } from "../../lambda/handlers/websocket-deps.ts";
import {
  executeApiEndpoint,
  ManagementEndpointError,
  managementEndpointOf,
  type WebSocketEvent,
} from "../../lambda/handlers/websocket-event.ts";
import { webSocketDepsFromEnv } from "../../lambda/runtime/deps-from-env.ts";
import { bob, HISTORY_TABLE, lucy, testChatDeps, webSocketEvent } from "../fixtures.ts";

const ddb = mockClient(DynamoDBDocumentClient);
const api = mockClient(ApiGatewayManagementApiClient);

const API_ID = "a1b2c3d4e5";
const EXECUTE_API = `https://${API_ID}.execute-api.eu-west-2.amazonaws.com/prod`;

/** An event as API Gateway sends it when the client connected through the custom domain `chat.example.com`. */
const customDomainEvent = (routeKey: string, who: Participant, body?: string): WebSocketEvent => {
  const event = webSocketEvent(routeKey, who, body);
  return { ...event, requestContext: { ...event.requestContext, apiId: API_ID, domainName: "chat.example.com" } };
};

let endpoints: string[];
const depsWith = (config: Partial<Pick<WebSocketHandlerDeps, "managementEndpoint" | "region">>) => {
  const chat = testChatDeps();
  return {
    ...chat,
    ...config,
    posterFor: (endpoint: string) => {
      endpoints.push(endpoint);
      return chat.poster;
    },
  } satisfies WebSocketHandlerDeps;
};

beforeEach(() => {
  endpoints = [];
  ddb.on(QueryCommand, { IndexName: "byChannel" }).resolves({ Items: [lucy, bob] });
  ddb.on(QueryCommand, { TableName: HISTORY_TABLE }).resolves({ Items: [] });
  ddb.on(PutCommand).resolves({});
  ddb.on(DeleteCommand).resolves({});
  // Presence: every arrival is a first one and every departure a last one, so each route posts.
  ddb.on(UpdateCommand).resolves({});
  api.on(PostToConnectionCommand).resolves({});
});
afterEach(() => {
  ddb.reset();
  api.reset();
});

describe("the management API endpoint behind a custom domain", () => {
  it("is the API's execute-api endpoint for $connect, $default and $disconnect, never the custom domain", async () => {
    const deps = depsWith({ region: "eu-west-2" });
    expect(await createConnectHandler(deps)(customDomainEvent("$connect", lucy))).toMatchObject({ statusCode: 200 });
    expect(await createMessageHandler(deps)(customDomainEvent("$default", lucy, "hello"))).toEqual({ statusCode: 200 });
    expect(await createDisconnectHandler(deps)(customDomainEvent("$disconnect", lucy))).toEqual({ statusCode: 200 });
    expect(endpoints).toEqual([EXECUTE_API, EXECUTE_API, EXECUTE_API]);
    expect(endpoints.join(" ")).not.toContain("chat.example.com");
  });

  it("is CHAT_MANAGEMENT_ENDPOINT when it is set", async () => {
    const deps = depsWith({ region: "eu-west-2", managementEndpoint: "http://127.0.0.1:4001/local" });
    await createMessageHandler(deps)(customDomainEvent("$default", lucy, "hello"));
    expect(endpoints).toEqual(["http://127.0.0.1:4001/local"]);
  });

  it("is built from the API id, the function's Region and the stage", () => {
    const event = customDomainEvent("$default", lucy);
    expect(managementEndpointOf(event, { region: "eu-west-2" })).toBe(EXECUTE_API);
    const staged = { ...event, requestContext: { ...event.requestContext, stage: "v2" } };
    expect(managementEndpointOf(staged, { region: "ap-southeast-5" })).toBe(
      `https://${API_ID}.execute-api.ap-southeast-5.amazonaws.com/v2`,
    );
    expect(executeApiEndpoint(API_ID, "cn-north-1", "prod")).toBe(
      `https://${API_ID}.execute-api.cn-north-1.amazonaws.com.cn/prod`,
    );
  });

  it("cannot be known without a Region or an API id, and says so", () => {
    const event = customDomainEvent("$default", lucy);
    expect(() => managementEndpointOf(event, {})).toThrow(ManagementEndpointError);
    const noId = { ...event, requestContext: { ...event.requestContext, apiId: "" } };
    expect(() => managementEndpointOf(noId, { region: "eu-west-2" })).toThrow(/CHAT_MANAGEMENT_ENDPOINT/);
  });

  it("comes from the environment's AWS_REGION and CHAT_MANAGEMENT_ENDPOINT in the functions' wiring", () => {
    const env = { CONNECTIONS_TABLE: "c", HISTORY_TABLE: "h", PRESENCE_TABLE: "p", AWS_REGION: "eu-west-2" };
    const options = { metrics: false, aws: { credentials: { accessKeyId: "x", secretAccessKey: "y" } } };
    const deployed = webSocketDepsFromEnv(env, options);
    expect(managementEndpointOf(customDomainEvent("$default", lucy), deployed)).toBe(EXECUTE_API);
    const local = webSocketDepsFromEnv({ ...env, CHAT_MANAGEMENT_ENDPOINT: "http://127.0.0.1:4001/local" }, options);
    expect(managementEndpointOf(customDomainEvent("$default", lucy), local)).toBe("http://127.0.0.1:4001/local");
  });
});
