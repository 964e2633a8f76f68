import {
  ApiMapping,
  DomainName,
  EndpointType,
  IpAddressType,
  type IWebSocketApi,
  type IWebSocketStage,
  SecurityPolicy,
} from "aws-cdk-lib/aws-apigatewayv2";
import { Certificate } from "aws-cdk-lib/aws-certificatemanager";
import { AaaaRecord, ARecord, HostedZone, RecordTarget } from "aws-cdk-lib/aws-route53";
import { ApiGatewayv2DomainProperties } from "aws-cdk-lib/aws-route53-targets";
import { Construct } from "constructs";

/** Your own host name for the WebSocket API (`-c wsDomainName=… -c wsCertificateArn=… [-c hostedZoneId=…]`). */
export interface WebSocketDomainOptions {
  /** The host name clients connect to, e.g. `chat.example.com`; the page's `wsUrl` becomes `wss://chat.example.com`. */
  readonly domainName: string;
  /**
   * An ACM certificate covering `domainName`, in the stack's own Region (a regional custom domain needs it there).
   */
  readonly certificateArn: string;
  /**
   * The Route 53 public hosted zone that holds `domainName`: alias A and AAAA records to the API's regional endpoint
   * are added to it. Default: none — point the name at the `WebSocketDomainTarget` output yourself.
   */
  readonly hostedZoneId?: string;
}

/** A custom domain setting that cannot work; the message says which and why. */
export class InvalidWebSocketDomainError extends Error {
  override readonly name = "InvalidWebSocketDomainError";
}

// ACM's ARN: arn:{partition}:acm:{region}:{account}:certificate/{uuid} (AWS doc "Amazon Resource Names (ARNs)").
const CERTIFICATE_ARN =
  /^arn:aws(?:-[a-z]+)*:acm:([a-z]{2,4}(?:-[a-z]+)+-\d+):\d{12}:certificate\/[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const HOSTED_ZONE_ID = /^[A-Z0-9]{1,32}$/;

/** The Region of an ACM certificate ARN, or an error naming the expected shape. */
export function certificateRegion(arn: string): string {
  const region = CERTIFICATE_ARN.exec(arn)?.[1];
  if (region === undefined) {
    throw new InvalidWebSocketDomainError(
      `wsCertificateArn "${arn}" is not an ACM certificate ARN ` +
        "(arn:aws:acm:{region}:{account}:certificate/{id}, as the ACM console shows it)",
    );
  }
  return region;
}

/**
 * Checks a custom domain setting and returns it normalized (host name in lower case, no trailing dot). `region` is
 * the stack's Region when known: the certificate must be there, since API Gateway's regional custom domains use a
 * certificate of their own Region (us-east-1 is only required for edge-optimized ones, which WebSocket APIs lack).
 */
export function checkWebSocketDomain(options: WebSocketDomainOptions, region?: string): WebSocketDomainOptions {
  const domainName = options.domainName.trim().toLowerCase().replace(/\.$/, "");
  const labels = domainName.split(".");
  if (domainName.length > 253 || labels.length < 2 || !labels.every((label) => LABEL.test(label))) {
    throw new InvalidWebSocketDomainError(
      `wsDomainName "${options.domainName}" is not a host name: give the name alone, e.g. chat.example.com ` +
        "(no wss://, no path, no wildcard)",
    );
  }
  const certificateIn = certificateRegion(options.certificateArn);
  if (region !== undefined && certificateIn !== region) {
    throw new InvalidWebSocketDomainError(
      `wsCertificateArn is a certificate in ${certificateIn}, but the chat is deployed to ${region}: WebSocket ` +
        `custom domains are regional and need a certificate requested or imported in ${region}`,
    );
  }
  const hostedZoneId = options.hostedZoneId?.trim().replace(/^\/hostedzone\//, "");
  if (hostedZoneId !== undefined && !HOSTED_ZONE_ID.test(hostedZoneId)) {
    throw new InvalidWebSocketDomainError(
      `hostedZoneId "${options.hostedZoneId}" is not a Route 53 hosted zone ID (e.g. Z0123456789ABCDEFGHIJ)`,
    );
  }
  return { domainName, certificateArn: options.certificateArn, ...(hostedZoneId ? { hostedZoneId } : {}) };
}

/** Properties of {@link WebSocketDomain}. */
export interface WebSocketDomainProps extends WebSocketDomainOptions {
  /** The API to serve at the domain's root. */
  readonly api: IWebSocketApi;
  /** Its stage: `wss://{domainName}` reaches this stage, with no stage segment in the URL. */
  readonly stage: IWebSocketStage;
}

/**
 * A regional API Gateway custom domain for the WebSocket API: the domain name (TLS 1.2, IPv4 and IPv6), a mapping of
 * its root to the stage, and, given a hosted zone, alias records to its regional endpoint.
 *
 * Events of connections made through it carry the custom `domainName` in their request context; management API
 * calls still go to the API's own execute-api endpoint, which the stack hands the functions as
 * `CHAT_MANAGEMENT_ENDPOINT` (AWS doc "Use @connections commands in your backend service").
 */
export class WebSocketDomain extends Construct {
  /** The custom domain. */
  readonly domain: DomainName;
  /** `wss://{domainName}`: the page's `wsUrl`. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: WebSocketDomainProps) {
    super(scope, id);
    this.domain = new DomainName(this, "Domain", {
      domainName: props.domainName,
      certificate: Certificate.fromCertificateArn(this, "Certificate", props.certificateArn),
      endpointType: EndpointType.REGIONAL,
      securityPolicy: SecurityPolicy.TLS_1_2,
      ipAddressType: IpAddressType.DUAL_STACK,
    });
    new ApiMapping(this, "Mapping", { api: props.api, domainName: this.domain, stage: props.stage });
    this.url = `wss://${props.domainName}`;

    if (props.hostedZoneId) {
      const zone = HostedZone.fromHostedZoneId(this, "Zone", props.hostedZoneId);
      const target = RecordTarget.fromAlias(
        new ApiGatewayv2DomainProperties(this.domain.regionalDomainName, this.domain.regionalHostedZoneId),
      );
      // A fully qualified name (trailing dot) is used as it is, so the zone's own name need not be known.
      const recordName = `${props.domainName}.`;
      new ARecord(this, "AliasIPv4", { zone, recordName, target });
      new AaaaRecord(this, "AliasIPv6", { zone, recordName, target });
    }
  }
}
