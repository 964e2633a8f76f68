import { CfnOutput, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import {
  CfnManagedLoginBranding,
  FeaturePlan,
  ManagedLoginVersion,
  Mfa,
  OAuthScope,
  UserPool,
  type UserPoolClient,
  UserPoolClientIdentityProvider,
  type UserPoolDomain,
} from "aws-cdk-lib/aws-cognito";
import { Construct } from "constructs";

/**
 * How people sign in (PROTOCOL §1–2):
 * - `guest`: they pick a name (the default);
 * - `cognito`: a Cognito user pool with managed login, and an app client for the page (authorization code with
 *   PKCE, no secret) whose callback and sign-out URL is each of `siteOrigins` + `/`;
 * - `oidc`: any other OpenID provider, where you registered the page (redirect URI: the site's origin + `/`).
 */
export type ChatAuthOptions =
  | { readonly mode: "guest" }
  | {
      readonly mode: "cognito";
      /** The site's origins, e.g. `https://d111111abcdef8.cloudfront.net`: the page's callback and sign-out URLs. */
      readonly siteOrigins: readonly string[];
      /** The managed login domain's prefix, `{prefix}.auth.{region}.amazoncognito.com`. Default: `chat-{account}`. */
      readonly domainPrefix?: string;
      /** What `cdk destroy` does with the user pool (its users). Default: `RemovalPolicy.RETAIN`. */
      readonly removalPolicy?: RemovalPolicy;
    }
  | { readonly mode: "oidc"; readonly issuer: string; readonly clientId: string };

/** `config.json`'s `auth` (docs/protocol.md §1); values may be CDK tokens. */
export type SiteAuth =
  | { readonly mode: "guest" }
  | { readonly mode: "oidc"; readonly issuer: string; readonly clientId: string; readonly logoutUrl?: string };

/** Checks the options of an OIDC mode before anything is built. */
export function checkAuthOptions(options: ChatAuthOptions): void {
  if (options.mode === "oidc") {
    if (!/^https:\/\/[^?#\s]+$/.test(options.issuer)) {
      throw new Error(`auth oidc: the issuer must be an https URL without query, got "${options.issuer}"`);
    }
    if (!options.clientId.trim()) throw new Error("auth oidc: the client id must not be empty");
  }
  if (options.mode === "cognito") {
    if (options.siteOrigins.length === 0 || options.siteOrigins.includes("*")) {
      throw new Error(
        "auth cognito needs the site's origin (context siteOrigin, e.g. https://d111111abcdef8.cloudfront.net): " +
          "Cognito sends people back only to the callback URLs it knows",
      );
    }
    if (options.domainPrefix !== undefined && !/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(options.domainPrefix)) {
      throw new Error(
        `auth cognito: the domain prefix must be lower-case letters, digits and '-', got "${options.domainPrefix}"`,
      );
    }
  }
}

/**
 * The sign-in of the chat: nothing in guest mode; in Cognito mode the user pool, its managed login domain and the
 * page's app client. Says what the session function's environment, `config.json` and the site's CSP need.
 */
export class ChatAuth extends Construct {
  /** What `config.json` says. */
  readonly siteAuth: SiteAuth;
  /** `CHAT_AUTH` and, in OIDC modes, `CHAT_OIDC_ISSUER` and `CHAT_OIDC_CLIENT_ID` for the session function. */
  readonly sessionEnvironment: Readonly<Record<string, string>>;
  /** Origins the page fetches from to sign in (discovery, token endpoint), for the CSP's connect-src. */
  readonly connectOrigins: readonly string[];
  /** Cognito mode: the user pool, its domain and the page's client. */
  readonly userPool?: UserPool;
  readonly domain?: UserPoolDomain;
  readonly client?: UserPoolClient;

  constructor(scope: Construct, id: string, options: ChatAuthOptions) {
    super(scope, id);
    checkAuthOptions(options);
    if (options.mode === "guest") {
      this.siteAuth = { mode: "guest" };
      this.sessionEnvironment = { CHAT_AUTH: "guest" };
      this.connectOrigins = [];
      return;
    }
    if (options.mode === "oidc") {
      this.siteAuth = { mode: "oidc", issuer: options.issuer, clientId: options.clientId };
      this.sessionEnvironment = {
        CHAT_AUTH: "oidc",
        CHAT_OIDC_ISSUER: options.issuer,
        CHAT_OIDC_CLIENT_ID: options.clientId,
      };
      // The provider's other endpoints may be on other hosts; they are in its discovery document, read at run time.
      this.connectOrigins = [new URL(options.issuer).origin];
      return;
    }

    const stack = Stack.of(this);
    this.userPool = new UserPool(this, "Users", {
      userPoolName: `${stack.stackName}-users`,
      selfSignUpEnabled: true,
      // Names are what the chat shows: people sign in with the username they chose (the chat's username rule
      // applies at POST /session, which answers 403 for names it does not allow).
      signInAliases: { username: true },
      signInCaseSensitive: false,
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      featurePlan: FeaturePlan.ESSENTIALS,
      deletionProtection: (options.removalPolicy ?? RemovalPolicy.RETAIN) === RemovalPolicy.RETAIN,
      removalPolicy: options.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.domain = this.userPool.addDomain("Domain", {
      cognitoDomain: { domainPrefix: options.domainPrefix ?? `chat-${stack.account}` },
      managedLoginVersion: ManagedLoginVersion.NEWER_MANAGED_LOGIN,
    });
    const pageUrls = options.siteOrigins.map((origin) => `${origin.replace(/\/$/, "")}/`);
    this.client = this.userPool.addClient("Page", {
      userPoolClientName: "chat-page",
      // A browser page keeps no secret: a public client, and PKCE protects the code.
      generateSecret: false,
      authFlows: {},
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [OAuthScope.OPENID, OAuthScope.PROFILE],
        callbackUrls: pageUrls,
        logoutUrls: pageUrls,
      },
      supportedIdentityProviders: [UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      enableTokenRevocation: true,
    });
    // Managed login shows a client's pages only once it has a style; Cognito's own is enough.
    new CfnManagedLoginBranding(this, "Branding", {
      userPoolId: this.userPool.userPoolId,
      clientId: this.client.userPoolClientId,
      useCognitoProvidedValues: true,
    });
    // The issuer of Cognito's ID tokens: https://cognito-idp.{region}.amazonaws.com/{userPoolId}.
    const issuer = `https://${this.userPool.userPoolProviderUrl}`;
    const domainUrl = this.domain.baseUrl();
    this.siteAuth = { mode: "oidc", issuer, clientId: this.client.userPoolClientId, logoutUrl: `${domainUrl}/logout` };
    this.sessionEnvironment = {
      CHAT_AUTH: "oidc",
      CHAT_OIDC_ISSUER: issuer,
      CHAT_OIDC_CLIENT_ID: this.client.userPoolClientId,
    };
    this.connectOrigins = [`https://cognito-idp.${stack.region}.${stack.urlSuffix}`, domainUrl];

    new CfnOutput(this, "UserPoolId", { value: this.userPool.userPoolId, description: "The chat's Cognito user pool" });
    new CfnOutput(this, "SignInUrl", { value: domainUrl, description: "The managed login domain" });
    Validations.of(this.userPool).acknowledge({
      id: "AwsSolutions-COG2",
      reason:
        "MFA is offered (TOTP) but not required: the chat's sign-in names people in a chat room and guards no data " +
        "of theirs beyond their messages; require it with Mfa.REQUIRED if yours does.",
    });
    Validations.of(this.userPool).acknowledge({
      id: "AwsSolutions-COG8",
      reason:
        "The Essentials feature plan: threat protection (the Plus plan) is billed per user and is the deployer's " +
        "choice; the session endpoint's per-IP rate and the API throttles bound abuse meanwhile.",
    });
  }
}
