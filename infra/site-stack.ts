import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from "aws-cdk-lib";
import type { ICertificate } from "aws-cdk-lib/aws-certificatemanager";
import {
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  PriceClass,
  ResponseHeadersPolicy,
  S3OriginAccessControl,
  SecurityPolicyProtocol,
  ViewerProtocolPolicy,
} from "aws-cdk-lib/aws-cloudfront";
import { S3BucketOrigin } from "aws-cdk-lib/aws-cloudfront-origins";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { BlockPublicAccess, Bucket, BucketEncryption } from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import type { ChatEndpoints } from "./chat-stack.ts";
import { cloudFrontName } from "./cloudfront-names.ts";
import { contentSecurityPolicy } from "./content-security-policy.ts";
import { defaultSiteAssetsDir } from "./repo-paths.ts";
import { SiteContent } from "./site-content.ts";

/** Properties of {@link SiteStack}. */
export interface SiteStackProps extends StackProps {
  /** The chat's URLs: written to `config.json` and allowed by the CSP. */
  readonly chat: ChatEndpoints;
  /** The built page (index.html, app.js, app.css). Default: `dist/web`, where `npm run build` writes it. */
  readonly siteAssetsDir?: string;
  /**
   * Your own host names for the site, served with `certificate` (which CloudFront requires in us-east-1).
   * Default: none — the site is served at its `*.cloudfront.net` name.
   */
  readonly domainNames?: string[];
  /** The certificate for `domainNames`. Default: CloudFront's own `*.cloudfront.net` certificate. */
  readonly certificate?: ICertificate;
  /** Where CloudFront serves from. Default: `PriceClass.PRICE_CLASS_100` (North America and Europe, the cheapest). */
  readonly priceClass?: PriceClass;
}

/**
 * The web page: a private S3 bucket read only by CloudFront (origin access control), HTTPS only, strict security
 * headers with a CSP that names the chat's endpoints, and the built page plus `config.json` deployed into it.
 * Outputs `SiteUrl`.
 */
export class SiteStack extends Stack {
  /** The distribution. */
  readonly distribution: Distribution;
  /** `https://…cloudfront.net` (or the first of `domainNames`). */
  readonly siteUrl: string;

  constructor(scope: Construct, id: string, props: SiteStackProps) {
    super(scope, id, props);
    if ((props.domainNames?.length ?? 0) > 0 !== (props.certificate !== undefined)) {
      throw new Error("domainNames and certificate go together: give both or neither");
    }

    const bucket = new Bucket(this, "Bucket", {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      // The bucket only ever holds build output that `npm run deploy` puts back, so `cdk destroy` empties and
      // deletes it.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });

    // CloudFront's policy and origin access control names are unique per account across Regions (they are global
    // resources), so each carries the stack's name and Region. Limits: 128 characters for a policy, 64 for an OAC.
    const headers = new ResponseHeadersPolicy(this, "SecurityHeaders", {
      responseHeadersPolicyName: cloudFrontName(this, "security-headers", 128),
      comment: "Chat page: CSP naming the chat endpoints, HSTS, nosniff, no framing, no referrer",
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: contentSecurityPolicy(props.chat), override: true },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        // The page's URL can carry ?username=…; no other site needs to learn it.
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
    });

    this.distribution = new Distribution(this, "Distribution", {
      comment: "Serverless chat page",
      defaultRootObject: "index.html",
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(bucket, {
          originAccessControl: new S3OriginAccessControl(this, "OriginAccessControl", {
            originAccessControlName: cloudFrontName(this, "oac", 64),
            description: "Lets the chat page's distribution read its bucket",
          }),
        }),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: headers,
      },
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: props.priceClass ?? PriceClass.PRICE_CLASS_100,
      // Only a certificate of our own lets us choose the TLS policy; with the default one CDK ignores the setting.
      ...(props.certificate
        ? {
            certificate: props.certificate,
            domainNames: props.domainNames,
            minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021,
          }
        : {}),
    });
    const host = props.domainNames?.[0] ?? this.distribution.distributionDomainName;
    this.siteUrl = `https://${host}`;

    new SiteContent(this, "Content", {
      bucket,
      distribution: this.distribution,
      siteAssetsDir: props.siteAssetsDir ?? defaultSiteAssetsDir,
      config: {
        wsUrl: props.chat.webSocketUrl,
        sessionUrl: props.chat.sessionUrl,
        auth: props.chat.auth ?? { mode: "guest" },
      },
      logGroup: new LogGroup(this, "DeploymentLogs", {
        retention: RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    this.acknowledgeFindings(bucket, !!props.certificate);

    new CfnOutput(this, "SiteUrl", { value: this.siteUrl, description: "Open this to chat" });
  }

  /** cdk-nag findings on the bucket and the distribution that are accepted, each with the reason it is. */
  private acknowledgeFindings(bucket: Bucket, customCertificate: boolean): void {
    const distribution = Validations.of(this.distribution);
    Validations.of(bucket).acknowledge({
      id: "AwsSolutions-S1",
      reason:
        "The bucket holds only the page's public build: CloudFront is its only reader (origin access control) and " +
        "the deployment its only writer, so server access logs would record nothing worth a second bucket.",
    });
    distribution.acknowledge({
      id: "AwsSolutions-CFR3",
      reason:
        "Viewer requests for a public static page are not worth a logging bucket with ACLs enabled; what users do " +
        "happens on the chat's APIs, whose stages keep JSON access logs.",
    });
    distribution.acknowledge({
      id: "AwsSolutions-CFR1",
      reason: "The chat is open to everyone; there is no legal or business reason to refuse any country.",
    });
    distribution.acknowledge({
      id: "AwsSolutions-CFR2",
      reason:
        "The distribution serves a few cached static files from a private bucket; a web ACL (a monthly fee plus per " +
        "request) would guard nothing that caching and CloudFront's built-in Shield Standard do not. The chat's " +
        "APIs are throttled per stage and per connection.",
    });
    if (!customCertificate) {
      distribution.acknowledge({
        id: "AwsSolutions-CFR4",
        reason:
          "Served on CloudFront's default *.cloudfront.net certificate, whose security policy CloudFront sets and " +
          "nobody can change; give `domainNames` and `certificate` to get TLSv1.2_2021. Current browsers negotiate " +
          "TLS 1.2 or 1.3 regardless.",
      });
    }
  }
}
