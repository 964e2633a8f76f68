import { join } from "node:path";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { type LambdaEntryName, lambdaEntry, repoRoot } from "./repo-paths.ts";

/**
 * The Lambda runtime of every chat function. The newest Node.js runtime aws-cdk-lib knows, so cdk-nag's
 * AwsSolutions-L1 holds without an exception; the handlers are async functions, which is all Node.js 24 accepts.
 */
export const chatRuntime = Runtime.NODEJS_24_X;

/** The esbuild target matching {@link chatRuntime}. */
export const chatBundleTarget = "node24";

/** Powertools log levels the functions accept in `POWERTOOLS_LOG_LEVEL`. */
export type ChatLogLevel = "DEBUG" | "INFO" | "WARN" | "ERROR";

/** Properties of a {@link ChatFunction}. */
export interface ChatFunctionProps {
  /** Which file of `lambda/entry/` this function runs. */
  readonly entry: LambdaEntryName;
  /** What the function does, shown in the Lambda console. */
  readonly description: string;
  /** Environment variables besides the Powertools and Node.js ones this construct sets. Default: none. */
  readonly environment?: Record<string, string>;
  /** Memory in MiB; CPU and network bandwidth grow with it. Default: 256. */
  readonly memorySize?: number;
  /** Default: 10 seconds. */
  readonly timeout?: Duration;
  /** Powertools log level. Default: "INFO". */
  readonly logLevel?: ChatLogLevel;
  /** How long the function's logs are kept. Default: one month. */
  readonly logRetention?: RetentionDays;
}

/**
 * The ESM `require` shim: a CommonJS dependency bundled into an ES module still calls `require("node:…")`, which
 * esbuild turns into an error at run time unless a real `require` is in scope.
 */
export const requireShim =
  'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);';

/**
 * esbuild aliases of every bundle: the SDK's default credential chain replaced by the environment provider alone
 * (lambda/runtime/lambda-credentials.ts), which is where Lambda puts a function's credentials.
 */
export const bundleAliases: Record<string, string> = {
  "@aws-sdk/credential-provider-node": join(repoRoot, "lambda", "runtime", "lambda-credentials.ts"),
};

/**
 * One chat Lambda function: an ES module bundle for arm64, with the AWS SDK bundled so the deployed SDK is the one in
 * package-lock.json, not whatever the runtime ships; its own log group with a retention; and its own role, which may
 * write only to that log group — every other permission comes later through `grant*`. No layers: a layer's ARN differs
 * by Region and CDK maps only some (the Parameters and Secrets extension's map fails `cdk deploy` elsewhere with
 * "Unable to get mapping"), so the functions read what they need themselves and deploy wherever Lambda does.
 */
export class ChatFunction extends Construct {
  /** The function. */
  readonly fn: NodejsFunction;
  /** The function's log group. */
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: ChatFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, "Logs", {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      // Logs are for operating the chat, not records to keep: `cdk destroy` removes them with the function.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // A role of our own instead of AWSLambdaBasicExecutionRole, whose logs:* on every log group we do not need.
    const role = new Role(this, "Role", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: `Runs the chat ${props.entry} function`,
    });
    this.logGroup.grantWrite(role);

    this.fn = new NodejsFunction(this, "Function", {
      entry: lambdaEntry(props.entry),
      handler: "handler",
      description: props.description,
      runtime: chatRuntime,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      role,
      logGroup: this.logGroup,
      projectRoot: repoRoot,
      depsLockFilePath: join(repoRoot, "package-lock.json"),
      environment: {
        POWERTOOLS_SERVICE_NAME: "chat",
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? "INFO",
        POWERTOOLS_METRICS_NAMESPACE: "Chat",
        // Source-mapped stack traces cost 15–25 ms of every cold start (bench/README.md): on when debugging only.
        ...(props.logLevel === "DEBUG" ? { NODE_OPTIONS: "--enable-source-maps" } : {}),
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: chatBundleTarget,
        minify: true,
        sourceMap: true,
        bundleAwsSDK: true,
        // Prefer the packages' ES module builds; the shim covers the CommonJS ones that remain.
        mainFields: ["module", "main"],
        banner: requireShim,
        esbuildArgs: Object.fromEntries(Object.entries(bundleAliases).map(([from, to]) => [`--alias:${from}`, to])),
      },
    });
    // The role is created before the function, so make sure its log permissions exist before the first invocation.
    this.fn.node.addDependency(role);
  }
}
