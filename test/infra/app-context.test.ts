import { App, RemovalPolicy } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { type AppEnvironment, chatAppPropsFromContext } from "../../infra/app-context.ts";
import { contentSecurityPolicy } from "../../infra/content-security-policy.ts";
import { checkAllowedOrigins } from "../../infra/session-api.ts";

const propsFrom = (context: Record<string, unknown>, environment?: AppEnvironment) =>
  chatAppPropsFromContext(new App({ context }).node, environment);

const CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000000";

describe("the app's context", () => {
  it("keeps every default when nothing is given", () => {
    expect(propsFrom({})).toEqual({
      chat: {
        allowedOrigins: undefined,
        historyRemovalPolicy: RemovalPolicy.RETAIN,
        manageApiGatewayAccount: true,
        logLevel: undefined,
      },
      site: { siteAssetsDir: undefined },
    });
  });

  it("reads the site origin, dropping a trailing slash, and accepts several separated by commas", () => {
    expect(propsFrom({ siteOrigin: "https://d111111abcdef8.cloudfront.net/" }).chat?.allowedOrigins).toEqual([
      "https://d111111abcdef8.cloudfront.net",
    ]);
    expect(propsFrom({ siteOrigin: "https://a.example, https://b.example" }).chat?.allowedOrigins).toEqual([
      "https://a.example",
      "https://b.example",
    ]);
  });

  it("lets cdk destroy delete the history only when asked, and leaves the account alone when asked", () => {
    const props = propsFrom({ retainHistory: "false", apiGatewayAccount: false });
    expect(props.chat?.historyRemovalPolicy).toBe(RemovalPolicy.DESTROY);
    expect(props.chat?.manageApiGatewayAccount).toBe(false);
  });

  it("accepts a log level in any case and resolves the site folder", () => {
    const props = propsFrom({ logLevel: "debug", siteAssetsDir: "build/page" });
    expect(props.chat?.logLevel).toBe("DEBUG");
    expect(props.site?.siteAssetsDir).toMatch(/\/build\/page$/);
  });

  it("reads the presence limit as a whole number, from a string as the CLI gives it", () => {
    expect(propsFrom({ presenceLimit: "200" }).chat?.presenceLimit).toBe(200);
    expect(propsFrom({ presenceLimit: 1 }).chat?.presenceLimit).toBe(1);
    expect(propsFrom({}).chat).not.toHaveProperty("presenceLimit");
  });

  it("reads $default's memory in MB within Lambda's range", () => {
    expect(propsFrom({ messageMemory: "1024" }).chat?.messageMemory).toBe(1024);
    expect(propsFrom({ messageMemory: 128 }).chat?.messageMemory).toBe(128);
    expect(propsFrom({ messageMemory: "10240" }).chat?.messageMemory).toBe(10_240);
    expect(propsFrom({}).chat).not.toHaveProperty("messageMemory");
  });

  it.each([
    [
      { messageMemory: "127" },
      /messageMemory must be a whole number of MB from 128 to 10240 \(Lambda's range\), got "127"/,
    ],
    [{ messageMemory: "10241" }, /messageMemory must be a whole number of MB from 128 to 10240/],
    [{ messageMemory: "0512" }, /messageMemory must be a whole number of MB/],
    [{ messageMemory: "1 GB" }, /messageMemory must be a whole number of MB/],
    [{ retainHistory: "no" }, /retainHistory must be "true" or "false"/],
    [{ logLevel: "LOUD" }, /logLevel must be one of/],
    [{ siteOrigin: { url: "x" } }, /siteOrigin must be a string/],
    [{ presenceLimit: "0" }, /presenceLimit must be a whole number from 1 to 200, got "0"/],
    // Channels of more than 2,000 connections (200 users of 10) are delivered by workers, which send no notices.
    [{ presenceLimit: "201" }, /presenceLimit must be a whole number from 1 to 200, got "201"/],
    [{ presenceLimit: "-5" }, /presenceLimit must be a whole number/],
    [{ presenceLimit: "1.5" }, /presenceLimit must be a whole number/],
    [{ presenceLimit: "100 users" }, /presenceLimit must be a whole number/],
    [{ presenceLimit: "1000000" }, /presenceLimit must be a whole number/],
  ])("refuses %j", (context, error) => {
    expect(() => propsFrom(context)).toThrow(error);
  });
});

describe("the WebSocket custom domain in the context", () => {
  it("is read with its certificate, and with a hosted zone when given one", () => {
    expect(propsFrom({ wsDomainName: "Chat.Example.com.", wsCertificateArn: CERT }).chat?.webSocketDomain).toEqual({
      domainName: "chat.example.com",
      certificateArn: CERT,
    });
    const withZone = propsFrom(
      { wsDomainName: "chat.example.com", wsCertificateArn: CERT, hostedZoneId: "Z0123456789ABCDEFGHIJ" },
      { region: "eu-west-1" },
    );
    expect(withZone.chat?.webSocketDomain).toEqual({
      domainName: "chat.example.com",
      certificateArn: CERT,
      hostedZoneId: "Z0123456789ABCDEFGHIJ",
    });
  });

  it.each([
    ["aws-cn", "cn-north-1"],
    ["aws-us-gov", "us-gov-west-1"],
    ["aws-eusc", "eusc-de-east-1"],
  ])("accepts certificates of the %s partition", (partition, region) => {
    const arn = `arn:${partition}:acm:${region}:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000000`;
    const props = propsFrom({ wsDomainName: "chat.example.org", wsCertificateArn: arn }, { region });
    expect(props.chat?.webSocketDomain?.certificateArn).toBe(arn);
  });

  it("is absent when none of its keys is given", () => {
    expect(propsFrom({}).chat).not.toHaveProperty("webSocketDomain");
  });

  it.each([
    [{ wsDomainName: "chat.example.com" }, /wsDomainName needs wsCertificateArn/],
    [{ wsCertificateArn: CERT }, /wsCertificateArn needs wsDomainName/],
    [{ hostedZoneId: "Z0123456789ABCDEFGHIJ" }, /hostedZoneId is for the WebSocket custom domain/],
    [{ wsDomainName: "chat.example.com", hostedZoneId: "Z0123" }, /wsDomainName needs wsCertificateArn/],
    [{ wsDomainName: "chat.example.com", wsCertificateArn: "arn:aws:acm:eu-west-1:123:cert" }, /not an ACM/],
    [{ wsDomainName: "chat.example.com", wsCertificateArn: CERT.replace(":acm:", ":iam:") }, /not an ACM/],
    [{ wsDomainName: "wss://chat.example.com", wsCertificateArn: CERT }, /not a host name/],
    [{ wsDomainName: "chat.example.com/prod", wsCertificateArn: CERT }, /not a host name/],
    [{ wsDomainName: "*.example.com", wsCertificateArn: CERT }, /not a host name/],
    [{ wsDomainName: "localhost", wsCertificateArn: CERT }, /not a host name/],
    [{ wsDomainName: "chat.example.com", wsCertificateArn: CERT, hostedZoneId: "example.com" }, /hosted zone ID/],
  ])("refuses %j with a clear error", (context, error) => {
    expect(() => propsFrom(context)).toThrow(error);
  });

  it("refuses a certificate from another Region than the one the CLI deploys to", () => {
    const context = { wsDomainName: "chat.example.com", wsCertificateArn: CERT };
    expect(() => propsFrom(context, { region: "us-east-1" })).toThrow(
      /certificate in eu-west-1, but the chat is deployed to us-east-1/,
    );
    expect(propsFrom(context, { region: "eu-west-1" }).chat?.webSocketDomain?.certificateArn).toBe(CERT);
  });
});

describe("CORS origins", () => {
  it.each([[["*"]], [["https://d111111abcdef8.cloudfront.net"]], [["http://localhost:3000", "https://chat.example"]]])(
    "accepts %j",
    (origins) => {
      expect(() => checkAllowedOrigins(origins)).not.toThrow();
    },
  );

  it.each([
    [[], /at least one/],
    [["*", "https://a.example"], /cannot be combined/],
    [["https://a.example/"], /not an origin/],
    [["https://a.example/page"], /not an origin/],
    [["a.example"], /not an origin/],
  ])("refuses %j", (origins, error) => {
    expect(() => checkAllowedOrigins(origins)).toThrow(error);
  });
});

describe("the content security policy", () => {
  it("allows connections to the site, the WebSocket URL and the session origin only", () => {
    const csp = contentSecurityPolicy({
      webSocketUrl: "wss://abc.execute-api.eu-west-1.amazonaws.com/prod",
      sessionOrigin: "https://xyz.execute-api.eu-west-1.amazonaws.com",
    });
    expect(csp).toContain(
      "connect-src 'self' wss://abc.execute-api.eu-west-1.amazonaws.com/prod https://xyz.execute-api.eu-west-1.amazonaws.com;",
    );
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  });
});

describe("the app's sign-in context", () => {
  const SITE = "https://d111111abcdef8.cloudfront.net";

  it("is guest mode unless auth says otherwise", () => {
    expect(propsFrom({}).chat?.auth).toBeUndefined();
    expect(propsFrom({ auth: "guest" }).chat?.auth).toBeUndefined();
  });

  it("reads auth=cognito with the site's origins as callback URLs, and a domain prefix", () => {
    expect(propsFrom({ auth: "cognito", siteOrigin: `${SITE}/`, cognitoDomainPrefix: "my-chat" }).chat?.auth).toEqual({
      mode: "cognito",
      siteOrigins: [SITE],
      domainPrefix: "my-chat",
    });
  });

  it("reads auth=oidc with its issuer and client id, and the session rate", () => {
    const chat = propsFrom({
      auth: "oidc",
      oidcIssuer: "https://id.example.com",
      oidcClientId: "chat",
      sessionRate: 30,
    }).chat;
    expect(chat?.auth).toEqual({ mode: "oidc", issuer: "https://id.example.com", clientId: "chat" });
    expect(chat?.sessionRate).toBe(30);
  });

  it.each([
    [{ auth: "cognito" }, /auth=cognito needs siteOrigin/],
    [{ auth: "oidc", oidcIssuer: "https://id.example.com" }, /needs oidcIssuer and oidcClientId/],
    [{ auth: "oidc", oidcIssuer: "http://id.example.com", oidcClientId: "c" }, /https/],
    [{ auth: "guest", oidcIssuer: "https://id.example.com" }, /for auth=oidc/],
    [
      { auth: "oidc", oidcIssuer: "https://i.example", oidcClientId: "c", cognitoDomainPrefix: "x" },
      /for auth=cognito/,
    ],
    [{ auth: "saml" }, /must be "guest", "cognito" or "oidc"/],
    [{ sessionRate: "0" }, /sessionRate must be a whole number/],
  ])("refuses %j", (context, error) => {
    expect(() => propsFrom(context)).toThrow(error);
  });
});
