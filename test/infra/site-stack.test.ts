import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CfnElement } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { Certificate } from "aws-cdk-lib/aws-certificatemanager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChatApp } from "../../infra/chat-app.ts";
import { flatten, type SynthesizedChatApp, synthChatApp, testApp } from "./infra-fixture.ts";

const CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0000-4000-8000-000000000000";

let synth: SynthesizedChatApp;
let template: Template;

beforeAll(() => {
  synth = synthChatApp();
  template = synth.siteTemplate;
});
afterAll(() => synth.cleanup());

/** The import of a Chat stack output, as `flatten` spells it, for the export made of this construct. */
const chatImport = (construct: { node: { defaultChild?: unknown } }, attribute?: string): RegExp => {
  const id = synth.chat.getLogicalId(construct.node.defaultChild as CfnElement);
  return new RegExp(
    `\\{Import:${synth.chat.stackName}:ExportsOutput${attribute ? "FnGetAtt" : "Ref"}${id}${attribute ?? ""}\\w+\\}`,
  );
};

describe("the bucket", () => {
  it("is private, encrypted and refuses plain HTTP", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
    });
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });

  it("is read by this distribution alone, through origin access control", () => {
    template.resourceCountIs("AWS::CloudFront::OriginAccessControl", 1);
    template.resourceCountIs("AWS::CloudFront::CloudFrontOriginAccessIdentity", 0);
    const policy = Object.values(template.findResources("AWS::S3::BucketPolicy"))[0];
    const statements = policy?.Properties.PolicyDocument.Statement as Record<string, unknown>[];
    const reads = statements.filter((s) => s.Effect === "Allow" && [s.Action].flat().includes("s3:GetObject"));
    expect(reads).toHaveLength(1);
    expect(reads[0]?.Principal).toEqual({ Service: "cloudfront.amazonaws.com" });
    const distribution = Object.keys(template.findResources("AWS::CloudFront::Distribution"))[0];
    const condition = reads[0]?.Condition as { StringEquals?: Record<string, unknown> } | undefined;
    expect(flatten(condition?.StringEquals?.["AWS:SourceArn"])).toBe(
      `arn:{AWS::Partition}:cloudfront::{AWS::AccountId}:distribution/{${distribution}}`,
    );
  });

  it("is emptied and deleted by cdk destroy, since it only holds build output", () => {
    const bucket = Object.values(template.findResources("AWS::S3::Bucket"))[0];
    expect(bucket?.DeletionPolicy).toBe("Delete");
    template.resourceCountIs("Custom::S3AutoDeleteObjects", 1);
  });
});

describe("the distribution", () => {
  it("redirects to HTTPS and serves index.html at the root", () => {
    template.hasResourceProperties("AWS::CloudFront::Distribution", {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: "index.html",
        DefaultCacheBehavior: Match.objectLike({
          ViewerProtocolPolicy: "redirect-to-https",
          ResponseHeadersPolicyId: { Ref: Match.anyValue() },
        }),
        Origins: [Match.objectLike({ OriginAccessControlId: Match.anyValue() })],
      }),
    });
  });

  it("sends a CSP that lets the page connect only to itself, the WebSocket URL and the session endpoint", () => {
    const policy = Object.values(template.findResources("AWS::CloudFront::ResponseHeadersPolicy"))[0];
    const config = policy?.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    const csp = flatten(config.ContentSecurityPolicy.ContentSecurityPolicy);
    const directives = new Map(
      csp.split(";").map((d) => {
        const [name = "", ...values] = d.trim().split(/\s+/);
        return [name, values];
      }),
    );
    expect(directives.get("default-src")).toEqual(["'self'"]);
    expect(directives.get("script-src")).toEqual(["'self'"]);
    expect(directives.get("style-src")).toEqual(["'self'"]);
    expect(directives.get("img-src")).toEqual(["'self'", "data:"]);
    expect(directives.get("frame-ancestors")).toEqual(["'none'"]);
    expect(directives.get("base-uri")).toEqual(["'self'"]);
    expect(directives.get("form-action")).toEqual(["'self'"]);
    const [self, ws, session, ...rest] = directives.get("connect-src") ?? [];
    expect(self).toBe("'self'");
    expect(ws).toMatch(/^wss:\/\//);
    expect(ws).toMatch(chatImport(synth.chat.webSocket.api));
    expect(ws).toMatch(/\.execute-api\.\{AWS::Region\}\.\{AWS::URLSuffix\}\/prod$/);
    expect(session).toMatch(chatImport(synth.chat.sessionApi.api, "ApiEndpoint"));
    expect(rest).toEqual([]);
    expect(config.ContentSecurityPolicy.Override).toBe(true);
  });

  it("sends HSTS, nosniff, DENY framing and no referrer", () => {
    template.hasResourceProperties("AWS::CloudFront::ResponseHeadersPolicy", {
      ResponseHeadersPolicyConfig: {
        SecurityHeadersConfig: Match.objectLike({
          StrictTransportSecurity: { AccessControlMaxAgeSec: 31_536_000, IncludeSubdomains: true, Override: true },
          ContentTypeOptions: { Override: true },
          FrameOptions: { FrameOption: "DENY", Override: true },
          ReferrerPolicy: { ReferrerPolicy: "no-referrer", Override: true },
        }),
      },
    });
  });

  it("uses TLSv1.2_2021 when given a certificate of its own", () => {
    const custom = synthChatApp((app) => ({
      site: {
        domainNames: ["chat.example.com"],
        certificate: Certificate.fromCertificateArn(app, "Certificate", CERTIFICATE_ARN),
      },
    }));
    try {
      custom.siteTemplate.hasResourceProperties("AWS::CloudFront::Distribution", {
        DistributionConfig: Match.objectLike({
          Aliases: ["chat.example.com"],
          ViewerCertificate: Match.objectLike({ MinimumProtocolVersion: "TLSv1.2_2021" }),
        }),
      });
      expect(flatten(custom.siteTemplate.findOutputs("SiteUrl").SiteUrl?.Value)).toBe("https://chat.example.com");
    } finally {
      custom.cleanup();
    }
  });
});

describe("CloudFront names, unique per account across Regions", () => {
  /** The names of the site stack's CloudFront policies and origin access control, built in `region`. */
  const namesIn = (region: string, stackName?: string): Record<string, string> => {
    const root = mkdtempSync(join(tmpdir(), "chat-infra-"));
    try {
      const app = testApp(join(root, "cdk.out"));
      const { site } = createChatApp(app, {
        env: { account: "123456789012", region },
        site: { siteAssetsDir: join(root, "missing"), ...(stackName ? { stackName } : {}) },
      });
      const resources = Template.fromStack(site).toJSON().Resources as Record<
        string,
        { Type: string; Properties: Record<string, { Name?: string }> }
      >;
      const names: Record<string, string> = {};
      for (const { Type, Properties } of Object.values(resources)) {
        const config = Object.entries(Properties).find(([key]) => key.endsWith("Config"))?.[1];
        if (Type.startsWith("AWS::CloudFront::") && config?.Name !== undefined) names[Type] = config.Name;
      }
      return names;
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  };

  it("carry the stack's name and Region, so two Regions' stacks do not collide", () => {
    const ireland = namesIn("eu-west-1");
    const virginia = namesIn("us-east-1");
    expect(Object.keys(ireland).sort()).toEqual([
      "AWS::CloudFront::OriginAccessControl",
      "AWS::CloudFront::ResponseHeadersPolicy",
    ]);
    for (const [type, name] of Object.entries(ireland)) {
      expect(name, type).toMatch(/^ChatSite-eu-west-1-/);
      expect(virginia[type], type).toMatch(/^ChatSite-us-east-1-/);
    }
  });

  it("stay within CloudFront's limits and distinct for long stack names", () => {
    const long = "A".repeat(120);
    const one = namesIn("ap-northeast-1", `${long}-one`);
    const two = namesIn("ap-northeast-1", `${long}-two`);
    expect(one["AWS::CloudFront::OriginAccessControl"]?.length).toBeLessThanOrEqual(64);
    expect(one["AWS::CloudFront::ResponseHeadersPolicy"]?.length).toBeLessThanOrEqual(128);
    for (const type of Object.keys(one)) {
      expect(one[type], type).toContain("-ap-northeast-1-");
      expect(one[type], type).not.toBe(two[type]);
    }
  });

  it("name the Region by its deploy-time value when the stack is environment-agnostic", () => {
    const headers = Object.values(template.findResources("AWS::CloudFront::ResponseHeadersPolicy"))[0];
    expect(flatten(headers?.Properties.ResponseHeadersPolicyConfig.Name)).toBe(
      "ChatSite-{AWS::Region}-security-headers",
    );
  });
});

describe("the content", () => {
  it("deploys the build and a config.json carrying the chat's URLs, then invalidates everything", () => {
    const deployments = Object.values(template.findResources("Custom::CDKBucketDeployment"));
    expect(deployments).toHaveLength(1);
    const props = deployments[0]?.Properties;
    expect(props.SourceObjectKeys).toHaveLength(2);
    expect(props).toMatchObject({
      DistributionId: { Ref: expect.any(String) },
      DistributionPaths: ["/*"],
      Prune: true,
      SystemMetadata: { "cache-control": "no-cache" },
    });
    // The build has no markers; config.json's deploy-time values are the Chat stack's exports.
    const [build, config] = props.SourceMarkers as Record<string, unknown>[];
    expect(build).toEqual({});
    const values = Object.values(config ?? {})
      .map(flatten)
      .join(" ");
    expect(values).toMatch(chatImport(synth.chat.webSocket.api));
    expect(values).toMatch(chatImport(synth.chat.sessionApi.api, "ApiEndpoint"));
  });

  it("refuses to synthesize without the page build, naming the command that makes it", () => {
    const root = mkdtempSync(join(tmpdir(), "chat-infra-"));
    try {
      // Bundling on for the site stack only: what `cdk synth` and `cdk deploy` do.
      const app = testApp(join(root, "cdk.out"), { bundlingStacks: ["ChatSite"] });
      expect(() => createChatApp(app, { site: { siteAssetsDir: join(root, "missing") } })).toThrow(/npm run build/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("still synthesizes without the build when nothing is bundled, as cdk destroy does", () => {
    const root = mkdtempSync(join(tmpdir(), "chat-infra-"));
    try {
      const app = testApp(join(root, "cdk.out"));
      const { site } = createChatApp(app, { site: { siteAssetsDir: join(root, "missing") } });
      expect(app.synth().getStackByName(site.stackName).template).toHaveProperty("Resources");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("the outputs", () => {
  it("name the site's URL", () => {
    const distribution = Object.keys(template.findResources("AWS::CloudFront::Distribution"))[0];
    expect(flatten(template.findOutputs("SiteUrl").SiteUrl?.Value)).toBe(`https://{${distribution}.DomainName}`);
  });
});
