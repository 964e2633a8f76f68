import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AwsSolutionsChecks } from "cdk-nag";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANAGEMENT_ENDPOINT_ENV } from "../../infra/chat-stack.ts";
import { ChatTemplate } from "./chat-template.ts";
import { flatten, type SynthesizedChatApp, synthChatApp } from "./infra-fixture.ts";

const DOMAIN = "chat.example.com";
const CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000000";
const ZONE = "Z0123456789ABCDEFGHIJ";
const POSTING = ["connect", "message", "disconnect", "broadcast-worker"] as const;

let plain: SynthesizedChatApp;
let withZone: SynthesizedChatApp;

beforeAll(() => {
  plain = synthChatApp({ chat: { webSocketDomain: { domainName: DOMAIN, certificateArn: CERT } } });
  withZone = synthChatApp({
    chat: { webSocketDomain: { domainName: DOMAIN, certificateArn: CERT, hostedZoneId: ZONE } },
  });
});
afterAll(() => {
  plain?.cleanup();
  withZone?.cleanup();
});

/** The `config.json` the site deploys, as staged in the cloud assembly. */
function deployedConfig(synth: SynthesizedChatApp): string {
  const outdir = synth.app.outdir;
  const configs = readdirSync(outdir)
    .map((name) => join(outdir, name, "config.json"))
    .filter((path) => path.includes("/asset.") && existsSync(path))
    .map((path) => readFileSync(path, "utf8"));
  expect(configs).toHaveLength(1);
  return configs[0] ?? "";
}

describe("a WebSocket custom domain", () => {
  it("is a regional API Gateway domain with the certificate, TLS 1.2, IPv4 and IPv6", () => {
    const domains = Object.values(plain.chatTemplate.findResources("AWS::ApiGatewayV2::DomainName"));
    expect(domains.map((d) => d.Properties)).toEqual([
      {
        DomainName: DOMAIN,
        DomainNameConfigurations: [
          { CertificateArn: CERT, EndpointType: "REGIONAL", SecurityPolicy: "TLS_1_2", IpAddressType: "dualstack" },
        ],
      },
    ]);
  });

  it("maps its root to the WebSocket API's prod stage", () => {
    const q = new ChatTemplate(plain.chatTemplate, plain.chat);
    const domainId = q.logicalId(plain.chat.webSocket.domain?.domain ?? plain.chat);
    const mappings = Object.values(plain.chatTemplate.findResources("AWS::ApiGatewayV2::ApiMapping"));
    expect(mappings.map((m) => m.Properties)).toEqual([
      { ApiId: { Ref: q.logicalId(plain.chat.webSocket.api) }, DomainName: { Ref: domainId }, Stage: "prod" },
    ]);
    // The stage is named, not referenced, so the mapping must wait for it.
    expect(mappings[0]?.DependsOn).toContain(q.logicalId(plain.chat.webSocket.stage));
  });

  it("becomes the page's wsUrl, in config.json, the CSP and the stack's output", () => {
    expect(JSON.parse(deployedConfig(plain))).toMatchObject({ wsUrl: `wss://${DOMAIN}`, auth: { mode: "guest" } });
    const policy = Object.values(plain.siteTemplate.findResources("AWS::CloudFront::ResponseHeadersPolicy"))[0];
    const csp = flatten(
      policy?.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy,
    );
    expect(csp).toMatch(new RegExp(`connect-src 'self' wss://${DOMAIN.replaceAll(".", "\\.")} `));
    expect(plain.chatTemplate.findOutputs("WebSocketUrl").WebSocketUrl?.Value).toBe(`wss://${DOMAIN}`);
  });

  it("leaves the functions posting to the execute-api endpoint, never to the custom domain", () => {
    const q = new ChatTemplate(plain.chatTemplate, plain.chat);
    const functions = plain.chatTemplate.findResources("AWS::Lambda::Function");
    const api = q.logicalId(plain.chat.webSocket.api);
    for (const name of POSTING) {
      const env = functions[q.fnId(name)]?.Properties.Environment.Variables;
      expect(flatten(env?.[MANAGEMENT_ENDPOINT_ENV]), name).toBe(
        `https://{${api}}.execute-api.{AWS::Region}.{AWS::URLSuffix}/prod`,
      );
    }
    for (const fn of Object.values(functions)) expect(JSON.stringify(fn.Properties)).not.toContain(DOMAIN);
  });

  it("without a hosted zone, adds no DNS record and outputs the name to point the domain at", () => {
    plain.chatTemplate.resourceCountIs("AWS::Route53::RecordSet", 0);
    const q = new ChatTemplate(plain.chatTemplate, plain.chat);
    const domainId = q.logicalId(plain.chat.webSocket.domain?.domain ?? plain.chat);
    expect(flatten(plain.chatTemplate.findOutputs("WebSocketDomainTarget").WebSocketDomainTarget?.Value)).toBe(
      `{${domainId}.RegionalDomainName}`,
    );
  });

  it("with a hosted zone, adds alias A and AAAA records to the domain's regional endpoint", () => {
    const q = new ChatTemplate(withZone.chatTemplate, withZone.chat);
    const domainId = q.logicalId(withZone.chat.webSocket.domain?.domain ?? withZone.chat);
    const records = Object.values(withZone.chatTemplate.findResources("AWS::Route53::RecordSet")).map(
      (r) => r.Properties,
    );
    expect(records.map((r) => r.Type).sort()).toEqual(["A", "AAAA"]);
    for (const record of records) {
      expect(record).toEqual({
        Name: `${DOMAIN}.`,
        Type: record.Type,
        HostedZoneId: ZONE,
        AliasTarget: {
          DNSName: { "Fn::GetAtt": [domainId, "RegionalDomainName"] },
          HostedZoneId: { "Fn::GetAtt": [domainId, "RegionalHostedZoneId"] },
        },
      });
    }
    expect(withZone.chatTemplate.findOutputs("WebSocketDomainTarget")).toEqual({});
  });

  it.each(["chat", "site"] as const)("leaves cdk-nag nothing to report in the %s stack", (name) => {
    const report = new AwsSolutionsChecks(withZone.app, { verbose: true }).validateScope(withZone[name]);
    expect(report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.description}`)).toEqual([]);
  });

  it("is refused when the certificate is in another Region than the stack", () => {
    expect(() =>
      synthChatApp({
        env: { account: "123456789012", region: "us-east-1" },
        chat: { webSocketDomain: { domainName: DOMAIN, certificateArn: CERT } },
      }),
    ).toThrow(/certificate in eu-west-1, but the chat is deployed to us-east-1/);
  });
});
