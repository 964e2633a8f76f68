import { resolve } from "node:path";
import { RemovalPolicy } from "aws-cdk-lib";
import type { Node } from "constructs";
import type { ChatAppProps } from "./chat-app.ts";
import type { ChatLogLevel } from "./chat-function.ts";

/**
 * The context keys `infra/app.ts` reads (`npx cdk deploy -c key=value`, or cdk.json's "context"); docs/deploy.md
 * documents each.
 */
export const contextKeys = {
  /** The site's origin, e.g. https://d111111abcdef8.cloudfront.net; comma-separated for several. Default: any. */
  siteOrigin: "siteOrigin",
  /** "false" lets `cdk destroy` delete the chat history table. Default: "true" (kept). */
  retainHistory: "retainHistory",
  /** "false" leaves the account's API Gateway CloudWatch Logs role alone. Default: "true" (set). */
  apiGatewayAccount: "apiGatewayAccount",
  /** Powertools log level of the functions. Default: "INFO". */
  logLevel: "logLevel",
  /** The built page's folder, relative to the working directory. Default: dist/web. */
  siteAssetsDir: "siteAssetsDir",
} as const;

const LOG_LEVELS: readonly ChatLogLevel[] = ["DEBUG", "INFO", "WARN", "ERROR"];

/** Reads a context value as a string; booleans and numbers given in cdk.json are accepted too. */
function text(node: Node, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "string" || typeof value === "boolean" || typeof value === "number") return String(value);
  throw new Error(`context ${key} must be a string, got ${JSON.stringify(value)}`);
}

function flag(node: Node, key: string, fallback: boolean): boolean {
  const value = text(node, key);
  if (value === undefined) return fallback;
  if (value === "true" || value === "false") return value === "true";
  throw new Error(`context ${key} must be "true" or "false", got "${value}"`);
}

/** The app's properties from the CDK context; anything not given keeps the constructs' defaults. */
export function chatAppPropsFromContext(node: Node): ChatAppProps {
  const origins = text(node, contextKeys.siteOrigin)
    ?.split(",")
    .map((origin) => origin.trim().replace(/\/$/, ""))
    .filter((origin) => origin !== "");
  const logLevel = text(node, contextKeys.logLevel)?.toUpperCase();
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel as ChatLogLevel)) {
    throw new Error(`context ${contextKeys.logLevel} must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`);
  }
  const assets = text(node, contextKeys.siteAssetsDir);
  return {
    chat: {
      allowedOrigins: origins && origins.length > 0 ? origins : undefined,
      historyRemovalPolicy: flag(node, contextKeys.retainHistory, true) ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      manageApiGatewayAccount: flag(node, contextKeys.apiGatewayAccount, true),
      logLevel: logLevel as ChatLogLevel | undefined,
    },
    site: { siteAssetsDir: assets ? resolve(assets) : undefined },
  };
}
