import { existsSync } from "node:fs";
import { join } from "node:path";
import { DefaultStackSynthesizer, Stack, Validations } from "aws-cdk-lib";
import type { IDistribution } from "aws-cdk-lib/aws-cloudfront";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Function as LambdaFunction } from "aws-cdk-lib/aws-lambda";
import type { ILogGroup } from "aws-cdk-lib/aws-logs";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { BucketDeployment, CacheControl, Source } from "aws-cdk-lib/aws-s3-deployment";
import { Construct } from "constructs";
import type { SiteAuth } from "./auth.ts";
import { nagText } from "./nag.ts";

/** The context key that changes the CDK bootstrap qualifier, and so the asset bucket's name. */
const BOOTSTRAP_QUALIFIER_CONTEXT = "@aws-cdk/core:bootstrapQualifier";

/** docs/protocol.md §1: what `GET /config.json` answers. */
export interface SiteConfig {
  readonly wsUrl: string;
  readonly sessionUrl: string;
  /** How people sign in: guests pick a name, or an OpenID provider (Cognito or another) names them. */
  readonly auth: SiteAuth;
}

/** Properties of {@link SiteContent}. */
export interface SiteContentProps {
  /** The site bucket. */
  readonly bucket: IBucket;
  /** The distribution to invalidate after each deployment. */
  readonly distribution: IDistribution;
  /** The built page. */
  readonly siteAssetsDir: string;
  /** The URLs for `config.json`; deploy-time values (another stack's outputs) are resolved by the deployment. */
  readonly config: SiteConfig;
  /** The deployment function's log group. */
  readonly logGroup: ILogGroup;
}

/** The page's files: `index.html` must be among them, or the site answers 403 at its root. */
const REQUIRED_FILE = "index.html";

/**
 * Copies the built page and `config.json` into the bucket and invalidates the distribution, so a deploy shows the
 * new page and the new URLs at once. Files the build no longer makes are removed (prune).
 */
export class SiteContent extends Construct {
  /** The deployment, absent when synthesizing without bundling (see below). */
  readonly deployment?: BucketDeployment;

  constructor(scope: Construct, id: string, props: SiteContentProps) {
    super(scope, id);
    if (!existsSync(join(props.siteAssetsDir, REQUIRED_FILE))) {
      // `cdk destroy` and `cdk ls` synthesize without bundling and never upload assets: they need the stack, not the
      // page, so they must work on a fresh clone. Every command that uploads (synth, deploy, diff) needs the build.
      if (!Stack.of(this).bundlingRequired) return;
      throw new Error(
        `The site has not been built: ${join(props.siteAssetsDir, REQUIRED_FILE)} does not exist. ` +
          "Run `npm run build` first (`npm run deploy` does it for you).",
      );
    }
    // A role of our own, so the handler writes only to its log group instead of using AWSLambdaBasicExecutionRole.
    const role = new Role(this, "Role", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: "Copies the chat page into the site bucket",
    });
    props.logGroup.grantWrite(role);
    this.deployment = new BucketDeployment(this, "Deployment", {
      role,
      destinationBucket: props.bucket,
      sources: [Source.asset(props.siteAssetsDir), Source.jsonData("config.json", props.config)],
      // No content hashes in the file names, so browsers must revalidate (ETag, 304) rather than keep old code.
      cacheControl: [CacheControl.noCache()],
      distribution: props.distribution,
      distributionPaths: ["/*"],
      logGroup: props.logGroup,
    });
    acknowledgeDeploymentFindings(this, role, props.bucket);
  }
}

/**
 * The permissions aws-cdk-lib's BucketDeployment grants its handler, which this app cannot narrow: they are added
 * inside the construct.
 */
function acknowledgeDeploymentFindings(scope: Construct, role: Role, bucket: IBucket): void {
  const qualifier = scope.node.tryGetContext(BOOTSTRAP_QUALIFIER_CONTEXT) ?? DefaultStackSynthesizer.DEFAULT_QUALIFIER;
  const assets = `arn:<AWS::Partition>:s3:::cdk-${qualifier}-assets-<AWS::AccountId>-<AWS::Region>/*`;
  const findings: Record<string, string> = {
    "Action::s3:GetObject*": "reads the uploaded page archive from the CDK bootstrap bucket",
    "Action::s3:GetBucket*": "reads the uploaded page archive from the CDK bootstrap bucket",
    "Action::s3:List*": "lists the bootstrap and site buckets to sync them",
    [`Resource::${assets}`]: "the asset's object key is only known at deploy time, within the bootstrap bucket",
    "Action::s3:DeleteObject*": "removes files the new build no longer has (prune)",
    "Action::s3:Abort*": "aborts its own failed multipart uploads",
    [`Resource::${nagText(bucket, `${bucket.bucketArn}/*`)}`]:
      "replaces every object of the site bucket, and only that bucket",
    "Resource::*":
      "cloudfront:CreateInvalidation and GetInvalidation, which the construct grants on every distribution",
  };
  for (const [finding, why] of Object.entries(findings)) {
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[${finding}]`,
      reason: `Granted by aws-cdk-lib's BucketDeployment to its handler, which ${why}.`,
    });
  }
  // The handler is one function per stack, created beside the stack's constructs rather than inside ours.
  const handler = Stack.of(scope)
    .node.findAll()
    .find((c) => c instanceof LambdaFunction && c.node.id.startsWith("Custom::CDKBucketDeployment"));
  if (!handler) throw new Error("BucketDeployment's handler function was not found; has aws-cdk-lib renamed it?");
  Validations.of(handler).acknowledge({
    id: "AwsSolutions-L1",
    reason:
      "The deployment handler is aws-cdk-lib's own Python function; BucketDeployment chooses its runtime and offers " +
      "no way to set it, and it is upgraded with aws-cdk-lib.",
  });
}
