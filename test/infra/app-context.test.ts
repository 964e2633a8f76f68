import { App, RemovalPolicy } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { chatAppPropsFromContext } from "../../infra/app-context.ts";
import { contentSecurityPolicy } from "../../infra/content-security-policy.ts";
import { checkAllowedOrigins } from "../../infra/session-api.ts";

const propsFrom = (context: Record<string, unknown>) => chatAppPropsFromContext(new App({ context }).node);

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

  it.each([
    [{ retainHistory: "no" }, /retainHistory must be "true" or "false"/],
    [{ logLevel: "LOUD" }, /logLevel must be one of/],
    [{ siteOrigin: { url: "x" } }, /siteOrigin must be a string/],
  ])("refuses %j", (context, error) => {
    expect(() => propsFrom(context)).toThrow(error);
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
