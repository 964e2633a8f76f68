import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatAuth, checkAuthOptions } from "../../infra/auth.ts";
import { flatten, type SynthesizedChatApp, synthChatApp } from "./infra-fixture.ts";

const SITE = "https://d111111abcdef8.cloudfront.net";
const ISSUER = "https://login.example.com/realms/chat";

/** The session function's environment, flattened to strings. */
function sessionEnvironment(synth: SynthesizedChatApp): Record<string, string> {
  const id = synth.chat.getLogicalId(synth.chat.functions.session.node.defaultChild as never);
  const fn = synth.chatTemplate.toJSON().Resources[id];
  const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
  return Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, flatten(value)]));
}

/** The site's CSP connect-src sources. */
function connectSources(synth: SynthesizedChatApp): string[] {
  const policy = Object.values(synth.siteTemplate.findResources("AWS::CloudFront::ResponseHeadersPolicy"))[0];
  const csp = flatten(
    policy?.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy,
  );
  return (csp.split(";").find((d) => d.trim().startsWith("connect-src")) ?? "").trim().split(/\s+/).slice(1);
}

/** The auth of config.json as the site stack was given it. */
const siteAuth = (synth: SynthesizedChatApp) => synth.chat.endpoints.auth;

/** cdk-nag's findings on what the sign-in adds: the session API (with the user pool), its function, the site. */
const nagFindings = (synth: SynthesizedChatApp, name: "session" | "site") =>
  (name === "site" ? [synth.site] : [synth.chat.sessionApi, synth.chat.functions.session]).flatMap((scope) =>
    new AwsSolutionsChecks(synth.app, { verbose: true })
      .validateScope(scope)
      .violations.map((v) => `${v.severity} ${v.ruleName}: ${v.description}`),
  );

describe("auth=cognito", () => {
  let synth: SynthesizedChatApp;
  beforeAll(() => {
    synth = synthChatApp({ chat: { allowedOrigins: [SITE], auth: { mode: "cognito", siteOrigins: [SITE] } } });
  });
  afterAll(() => synth.cleanup());

  it("creates a user pool with a strong password policy and managed login on a Cognito domain", () => {
    const template = synth.chatTemplate;
    template.hasResourceProperties("AWS::Cognito::UserPool", {
      Policies: { PasswordPolicy: { MinimumLength: 12, RequireSymbols: true, RequireUppercase: true } },
      MfaConfiguration: "OPTIONAL",
    });
    template.hasResourceProperties("AWS::Cognito::UserPoolDomain", { ManagedLoginVersion: 2 });
    template.resourceCountIs("AWS::Cognito::ManagedLoginBranding", 1);
    template.hasResource("AWS::Cognito::UserPool", { DeletionPolicy: "Retain" });
  });

  it("gives the page a public client with the authorization code flow and the site as callback and sign-out URL", () => {
    synth.chatTemplate.hasResourceProperties("AWS::Cognito::UserPoolClient", {
      GenerateSecret: false,
      AllowedOAuthFlows: ["code"],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: ["openid", "profile"],
      CallbackURLs: [`${SITE}/`],
      LogoutURLs: [`${SITE}/`],
      SupportedIdentityProviders: ["COGNITO"],
    });
  });

  it("has the session function accept the pool's ID tokens for that client, and config.json say OIDC", () => {
    const env = sessionEnvironment(synth);
    expect(env.CHAT_AUTH).toBe("oidc");
    expect(env.CHAT_OIDC_ISSUER).toMatch(/^https:\/\/\{SessionApiAuthUsers\w+\.ProviderURL\}$/);
    expect(env.CHAT_OIDC_CLIENT_ID).toMatch(/^\{SessionApiAuthUsersPage\w+\}$/);
    const auth = siteAuth(synth);
    expect(auth?.mode).toBe("oidc");
    expect(auth && "logoutUrl" in auth && auth.logoutUrl).toBeTruthy();
  });

  it("lets the page reach Cognito's discovery and the managed login domain, and send the Authorization header", () => {
    const sources = connectSources(synth);
    expect(sources).toContain("https://cognito-idp.{AWS::Region}.{AWS::URLSuffix}");
    expect(sources.some((source) => /amazoncognito/.test(source))).toBe(true);
    synth.chatTemplate.hasResourceProperties("AWS::ApiGatewayV2::Api", {
      CorsConfiguration: { AllowHeaders: ["content-type", "authorization"] },
    });
  });

  it.each(["session", "site"] as const)("leaves cdk-nag nothing unacknowledged in the %s resources", (name) => {
    expect(nagFindings(synth, name)).toEqual([]);
  });
});

describe("auth=oidc and the session rate", () => {
  let synth: SynthesizedChatApp;
  beforeAll(() => {
    synth = synthChatApp({ chat: { auth: { mode: "oidc", issuer: ISSUER, clientId: "chat-page" }, sessionRate: 30 } });
  });
  afterAll(() => synth.cleanup());

  it("configures the session function with the issuer and client, and creates no user pool", () => {
    const env = sessionEnvironment(synth);
    expect(env).toMatchObject({ CHAT_AUTH: "oidc", CHAT_OIDC_ISSUER: ISSUER, CHAT_OIDC_CLIENT_ID: "chat-page" });
    synth.chatTemplate.resourceCountIs("AWS::Cognito::UserPool", 0);
    expect(siteAuth(synth)).toEqual({ mode: "oidc", issuer: ISSUER, clientId: "chat-page" });
    expect(connectSources(synth)).toContain("https://login.example.com");
  });

  it("limits sessions per source IP in the rates table, which only the session function of the HTTP API may write", () => {
    const env = sessionEnvironment(synth);
    expect(env.CHAT_SESSION_RATE).toBe("30");
    const ratesId = synth.chat.getLogicalId(synth.chat.tables.rates.node.defaultChild as never);
    expect(env.RATES_TABLE).toBe(`{${ratesId}}`);
    const roleId = synth.chat.getLogicalId(synth.chat.functions.session.role?.node.defaultChild as never);
    const policies = Object.values(synth.chatTemplate.findResources("AWS::IAM::Policy")).filter((policy) =>
      flatten(policy.Properties.Roles).includes(roleId),
    );
    const statements = policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    const onRates = statements.filter((statement) => flatten(statement.Resource).includes(ratesId));
    expect(onRates.flatMap((statement) => statement.Action)).toContain("dynamodb:UpdateItem");
  });

  it.each(["session", "site"] as const)("leaves cdk-nag nothing unacknowledged in the %s resources", (name) => {
    expect(nagFindings(synth, name)).toEqual([]);
  });
});

describe("auth options", () => {
  it("refuse an OIDC issuer that is not https and a Cognito mode without the site's origin", () => {
    expect(() => checkAuthOptions({ mode: "oidc", issuer: "http://login.example.com", clientId: "c" })).toThrow(
      /https/,
    );
    expect(() => checkAuthOptions({ mode: "oidc", issuer: ISSUER, clientId: " " })).toThrow(/client id/);
    expect(() => checkAuthOptions({ mode: "cognito", siteOrigins: [] })).toThrow(/siteOrigin/);
    expect(() => checkAuthOptions({ mode: "cognito", siteOrigins: ["*"] })).toThrow(/siteOrigin/);
    expect(() => checkAuthOptions({ mode: "cognito", siteOrigins: [SITE], domainPrefix: "Chat_Prod" })).toThrow(
      /prefix/,
    );
  });

  it("keep guest mode free of any resource", () => {
    const stack = new Stack(new App(), "Guest");
    const auth = new ChatAuth(stack, "Auth", { mode: "guest" });
    expect(auth.sessionEnvironment).toEqual({ CHAT_AUTH: "guest" });
    expect(auth.siteAuth).toEqual({ mode: "guest" });
    expect(Template.fromStack(stack).toJSON().Resources ?? {}).toEqual({});
  });
});
