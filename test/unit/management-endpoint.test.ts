import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";
import { DeleteCommand, DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Participant } from "../../lambda/core/chat.ts";
import { createConnectHandler } from "../../lambda/handlers/connect.ts";
import { createDisconnectHandler } from "../../lambda/handlers/disconnect.ts";
import { createMessageHandler } from "../../lambda/handlers/message.ts";
import type { WebSocketHandlerDeps } from "../../lambda/handlers/websocket-deps.ts";
import type { WebSocketEvent } from "../../lambda/handlers/websocket-event.ts";
import { webSocketDepsFromEnv } from "../../lambda/runtime/deps-from-env.ts";
import { ConfigurationError } from "../../lambda/runtime/environment.ts";
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
const depsWith = (managementEndpoint: string) => {
  const chat = testChatDeps();
  return {
    ...chat,
    managementEndpoint,
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
  it("is the configured execute-api endpoint for $connect, $default and $disconnect, never the custom domain", async () => {
    const deps = depsWith(EXECUTE_API);
    expect(await createConnectHandler(deps)(customDomainEvent("$connect", lucy))).toMatchObject({ statusCode: 200 });
    expect(await createMessageHandler(deps)(customDomainEvent("$default", lucy, "hello"))).toMatchObject({
      statusCode: 200,
    });
    expect(await createDisconnectHandler(deps)(customDomainEvent("$disconnect", lucy))).toEqual({ statusCode: 200 });
    expect(endpoints).toEqual([EXECUTE_API, EXECUTE_API, EXECUTE_API]);
    expect(endpoints.join(" ")).not.toContain("chat.example.com");
  });

  it("comes from CHAT_MANAGEMENT_ENDPOINT in the functions' wiring, which refuses to start without it", () => {
    const env = {
      CONNECTIONS_TABLE: "c",
      HISTORY_TABLE: "h",
      PRESENCE_TABLE: "p",
      RATES_TABLE: "r",
      MEMBERS_TABLE: "m",
      AWS_REGION: "eu-west-2",
    };
    const options = { metrics: false, aws: { credentials: { accessKeyId: "x", secretAccessKey: "y" } } };
    expect(webSocketDepsFromEnv({ ...env, CHAT_MANAGEMENT_ENDPOINT: EXECUTE_API }, options).managementEndpoint).toBe(
      EXECUTE_API,
    );
    expect(() => webSocketDepsFromEnv(env, options)).toThrow(ConfigurationError);
    expect(() => webSocketDepsFromEnv(env, options)).toThrow(/CHAT_MANAGEMENT_ENDPOINT/);
    // A presence limit over 200 users would reach channels that broadcast workers deliver, with no notices.
    const withLimit = (limit: string) =>
      webSocketDepsFromEnv({ ...env, CHAT_MANAGEMENT_ENDPOINT: EXECUTE_API, CHAT_PRESENCE_LIMIT: limit }, options);
    expect(withLimit("200").presenceLimit).toBe(200);
    expect(() => withLimit("201")).toThrow(/CHAT_PRESENCE_LIMIT must be at most 200/);
  });
});
