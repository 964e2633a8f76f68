import { resolve } from "node:path";
import { RemovalPolicy } from "aws-cdk-lib";
import type { Node } from "constructs";
import { presenceLimitMax } from "../lambda/core/limits.ts";
import { type ChatAuthOptions, checkAuthOptions } from "./auth.ts";
import type { ChatAppProps } from "./chat-app.ts";
import type { ChatLogLevel } from "./chat-function.ts";
import { checkWebSocketDomain, InvalidWebSocketDomainError, type WebSocketDomainOptions } from "./websocket-domain.ts";

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
  /** The largest channel, in users, with join and leave notices. Default: 100. */
  presenceLimit: "presenceLimit",
  /** The built page's folder, relative to the working directory. Default: dist/web. */
  siteAssetsDir: "siteAssetsDir",
  /** A host name of your own for the WebSocket API, e.g. chat.example.com; needs wsCertificateArn. Default: none. */
  wsDomainName: "wsDomainName",
  /** The ARN of an ACM certificate for wsDomainName, in the chat's Region. */
  wsCertificateArn: "wsCertificateArn",
  /** The Route 53 hosted zone of wsDomainName, to add alias records to. Default: none (you add the DNS record). */
  hostedZoneId: "hostedZoneId",
  /** How people sign in: "guest", "cognito" (needs siteOrigin) or "oidc" (needs oidcIssuer and oidcClientId). Default: "guest". */
  auth: "auth",
  /** The OpenID provider's issuer URL, for auth=oidc. */
  oidcIssuer: "oidcIssuer",
  /** The page's client id at that provider, for auth=oidc. */
  oidcClientId: "oidcClientId",
  /** The Cognito managed login domain's prefix, for auth=cognito. Default: chat-{account}. */
  cognitoDomainPrefix: "cognitoDomainPrefix",
  /** New sessions per minute per source IP. Default: 60. */
  sessionRate: "sessionRate",
  /** `$default`'s memory in MB, 128 to 10240 (more is faster for large channels, dearer for small ones). Default: 256. */
  messageMemory: "messageMemory",
} as const;

/** Lambda's memory range, in MB. */
const inRange = (memoryMb: number) => memoryMb >= 128 && memoryMb <= 10_240;

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

/**
 * The WebSocket custom domain from the context: both `wsDomainName` and `wsCertificateArn`, or neither; `hostedZoneId`
 * only with them. `region` is where the chat deploys, when known (the CLI passes `CDK_DEFAULT_REGION`).
 */
function webSocketDomainFromContext(node: Node, region: string | undefined): WebSocketDomainOptions | undefined {
  const domainName = text(node, contextKeys.wsDomainName);
  const certificateArn = text(node, contextKeys.wsCertificateArn);
  const hostedZoneId = text(node, contextKeys.hostedZoneId);
  if (domainName === undefined && certificateArn === undefined) {
    if (hostedZoneId === undefined) return undefined;
    throw new InvalidWebSocketDomainError(
      `context ${contextKeys.hostedZoneId} is for the WebSocket custom domain: give ${contextKeys.wsDomainName} and ` +
        `${contextKeys.wsCertificateArn} with it`,
    );
  }
  if (domainName === undefined || certificateArn === undefined) {
    const [given, missing] =
      domainName === undefined
        ? [contextKeys.wsCertificateArn, contextKeys.wsDomainName]
        : [contextKeys.wsDomainName, contextKeys.wsCertificateArn];
    throw new InvalidWebSocketDomainError(
      `context ${given} needs ${missing}: a custom WebSocket domain takes both the host name and its ACM certificate`,
    );
  }
  return checkWebSocketDomain({ domainName, certificateArn, hostedZoneId }, region);
}

/** The sign-in from the context: `auth`, with what each mode needs and nothing it does not use. */
function authFromContext(node: Node, siteOrigins: string[] | undefined): ChatAuthOptions | undefined {
  const mode = text(node, contextKeys.auth) ?? "guest";
  const issuer = text(node, contextKeys.oidcIssuer);
  const clientId = text(node, contextKeys.oidcClientId);
  const domainPrefix = text(node, contextKeys.cognitoDomainPrefix);
  if (mode !== "oidc" && (issuer !== undefined || clientId !== undefined)) {
    throw new Error(
      `context ${contextKeys.oidcIssuer} and ${contextKeys.oidcClientId} are for auth=oidc, not auth=${mode}`,
    );
  }
  if (mode !== "cognito" && domainPrefix !== undefined) {
    throw new Error(`context ${contextKeys.cognitoDomainPrefix} is for auth=cognito, not auth=${mode}`);
  }
  switch (mode) {
    case "guest":
      return undefined;
    case "oidc":
      if (issuer === undefined || clientId === undefined) {
        throw new Error(`context auth=oidc needs ${contextKeys.oidcIssuer} and ${contextKeys.oidcClientId}`);
      }
      return { mode, issuer, clientId };
    case "cognito":
      if (!siteOrigins) {
        throw new Error(
          `context auth=cognito needs ${contextKeys.siteOrigin} (the site's origin, output SiteUrl of a first deploy): ` +
            "Cognito sends people back only to callback URLs it knows",
        );
      }
      return { mode, siteOrigins, ...(domainPrefix ? { domainPrefix } : {}) };
    default:
      throw new Error(`context ${contextKeys.auth} must be "guest", "cognito" or "oidc", got "${mode}"`);
  }
}

/** Where the app is run from, besides its context. */
export interface AppEnvironment {
  /** The Region the CLI deploys environment-agnostic stacks to (`CDK_DEFAULT_REGION`). Default: unknown. */
  readonly region?: string;
}

/** The app's properties from the CDK context; anything not given keeps the constructs' defaults. */
export function chatAppPropsFromContext(node: Node, environment: AppEnvironment = {}): ChatAppProps {
  const origins = text(node, contextKeys.siteOrigin)
    ?.split(",")
    .map((origin) => origin.trim().replace(/\/$/, ""))
    .filter((origin) => origin !== "");
  const logLevel = text(node, contextKeys.logLevel)?.toUpperCase();
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel as ChatLogLevel)) {
    throw new Error(`context ${contextKeys.logLevel} must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`);
  }
  const presenceLimit = text(node, contextKeys.presenceLimit);
  if (
    presenceLimit !== undefined &&
    !(/^[1-9][0-9]{0,5}$/.test(presenceLimit) && Number(presenceLimit) <= presenceLimitMax)
  ) {
    // Larger channels may be delivered by the broadcast workers, which send no notices (lambda/core/limits.ts).
    throw new Error(
      `context ${contextKeys.presenceLimit} must be a whole number from 1 to ${presenceLimitMax}, got "${presenceLimit}"`,
    );
  }
  const sessionRate = text(node, contextKeys.sessionRate);
  if (sessionRate !== undefined && !/^[1-9][0-9]{0,5}$/.test(sessionRate)) {
    throw new Error(`context ${contextKeys.sessionRate} must be a whole number from 1 to 999999, got "${sessionRate}"`);
  }
  const messageMemory = text(node, contextKeys.messageMemory);
  if (messageMemory !== undefined && !(/^[1-9][0-9]{2,4}$/.test(messageMemory) && inRange(Number(messageMemory)))) {
    throw new Error(
      `context ${contextKeys.messageMemory} must be a whole number of MB from 128 to 10240 (Lambda's range), got "${messageMemory}"`,
    );
  }
  const allowedOrigins = origins && origins.length > 0 ? origins : undefined;
  const auth = authFromContext(node, allowedOrigins);
  if (auth) checkAuthOptions(auth);
  const assets = text(node, contextKeys.siteAssetsDir);
  const webSocketDomain = webSocketDomainFromContext(node, environment.region || undefined);
  return {
    chat: {
      allowedOrigins,
      historyRemovalPolicy: flag(node, contextKeys.retainHistory, true) ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      manageApiGatewayAccount: flag(node, contextKeys.apiGatewayAccount, true),
      logLevel: logLevel as ChatLogLevel | undefined,
      ...(presenceLimit ? { presenceLimit: Number(presenceLimit) } : {}),
      ...(sessionRate ? { sessionRate: Number(sessionRate) } : {}),
      ...(messageMemory ? { messageMemory: Number(messageMemory) } : {}),
      ...(auth ? { auth } : {}),
      ...(webSocketDomain ? { webSocketDomain } : {}),
    },
    site: { siteAssetsDir: assets ? resolve(assets) : undefined },
  };
}
