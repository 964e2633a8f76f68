import { createHash, createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { Sha256 } from "@smithy/core/checksum";
import { createScope, getSigningKey, SignatureV4 } from "@smithy/signature-v4";

/**
 * Region and credentials the local stack's SDK clients and functions sign with. The management API's front checks
 * the signatures made with them ({@link SigV4Verifier}); the local DynamoDB checks none, but the SDK needs some.
 */
export const LOCAL_REGION = "local";
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" } as const;

/** Credentials a request may be signed with. */
export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** What a request's signature is checked against: the Region and credentials the local stack gives its functions. */
export interface SigV4VerifierOptions {
  readonly region: string;
  readonly credentials: SigningCredentials;
  /** SigV4's service name. Default: `execute-api`, the management API's. */
  readonly service?: string;
  /** The clock, in ms. Default: `Date.now`. */
  readonly now?: () => number;
}

/** Why a request is refused, as API Gateway answers it: 403, `x-amzn-errortype: {type}`, `{"message": …}`. */
export interface SigV4Refusal {
  readonly status: 403;
  readonly type: string;
  readonly message: string;
}

/**
 * API Gateway's messages for requests to an API with IAM authorization (the management API always has it):
 * - unsigned: MissingAuthenticationTokenException "Missing Authentication Token", a signature too old
 *   InvalidSignatureException "Signature expired", unknown keys "The security token included in the request is
 *   invalid." (https://repost.aws/knowledge-center/api-gateway-troubleshoot-403-forbidden);
 * - a signature that does not match, with the canonical request and string to sign the service computed
 *   (https://repost.aws/knowledge-center/api-gateway-iam-sigv4-mismatch,
 *   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html, which also gives those of
 *   the credential scope's date, Region and service and of the time window);
 * - an Authorization header without its parts: IncompleteSignatureException, as API Gateway's answers quoted in
 *   https://github.com/aws/chalice/issues/828 and https://github.com/serverless/serverless/issues/3205.
 */
const refusal = (type: string, message: string): SigV4Refusal => ({ status: 403, type, message });
const MISSING = refusal("MissingAuthenticationTokenException", "Missing Authentication Token");
const INVALID_TOKEN = refusal("AccessDeniedException", "The security token included in the request is invalid.");
const incomplete = (message: string) => refusal("IncompleteSignatureException", message);
const invalid = (message: string) => refusal("InvalidSignatureException", message);
const MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key " +
  "and signing method. Consult the service documentation for details.";

const ALGORITHM = "AWS4-HMAC-SHA256";
const TERMINATOR = "aws4_request";
/** How far a request's date may be from the service's clock, either way, as AWS allows. */
const MAX_SKEW_MS = 5 * 60_000;
const sha256Hex = (data: string | Uint8Array): string => createHash("sha256").update(data).digest("hex");
const EMPTY_HASH = sha256Hex("");
/** A request without a query string's parameters. */
const NO_QUERY: Record<string, string | string[]> = Object.freeze(Object.create(null));
const LONG_DATE = /^\d{8}T\d{6}Z$/;
const SIGNATURE = "Signature=";

/** `20240102T030405Z` of a time. */
const longDateOf = (ms: number): string =>
  new Date(ms)
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");

/** An HTTP `Date` header's time as `20240102T030405Z`, or the header itself when it is no date. */
function fromHttpDate(date: string): string {
  const ms = Date.parse(date);
  return Number.isNaN(ms) ? date : longDateOf(ms);
}

/** The time of `20240102T030405Z`, or NaN. */
const timeOf = (longDate: string): number =>
  LONG_DATE.test(longDate)
    ? Date.UTC(
        Number(longDate.slice(0, 4)),
        Number(longDate.slice(4, 6)) - 1,
        Number(longDate.slice(6, 8)),
        Number(longDate.slice(9, 11)),
        Number(longDate.slice(11, 13)),
        Number(longDate.slice(13, 15)),
      )
    : Number.NaN;

/** An Authorization header's parts that do not change from one request to the next (all but the signature). */
interface ParsedAuthorization {
  /** Refused whatever the request: a malformed header, another key, Region or service. */
  readonly refusal?: SigV4Refusal;
  readonly scopeDate: string;
  readonly scope: string;
  readonly headerNames: readonly string[];
  /** The Signature parameter of the header parsed (read from the header itself when it is in the usual form). */
  readonly signature: string;
}

/**
 * The SDK's own canonical request (path normalized and escaped once more, query sorted and escaped, headers in
 * order), not a copy of the poster's: a fault in how lambda/core/poster.ts builds its canonical request then shows.
 */
class CanonicalRequests extends SignatureV4 {
  of(
    method: string,
    path: string,
    query: Record<string, string | string[]>,
    headers: Record<string, string>,
    payloadHash: string,
  ): string {
    const request = { method, path, query, headers: {}, protocol: "http:", hostname: "" };
    return this.createCanonicalRequest(
      request as unknown as Parameters<SignatureV4["presign"]>[0],
      headers,
      payloadHash,
    );
  }
}

/**
 * Checks requests' SigV4 signatures as API Gateway does for the management API (IAM authorization, service
 * `execute-api`): the Authorization header's form and credential scope, `x-amz-date` within 5 minutes of now, and the
 * signature recomputed over the request as received (method, raw path, query, the headers named in SignedHeaders,
 * the SHA-256 of the body it read) and compared in constant time. Cheap enough for every post of a fan-out: the
 * signing key is derived once per day, the Authorization header's fixed part parsed once, and the rest is one
 * canonical request, two hashes and one HMAC.
 */
export class SigV4Verifier {
  private readonly region: string;
  private readonly service: string;
  private readonly credentials: SigningCredentials;
  private readonly now: () => number;
  private readonly canonical: CanonicalRequests;
  /** Signing keys by day (`20240102`); a few at most, since a date must be within 5 minutes of now. */
  private readonly keys = new Map<string, KeyObject>();
  /** Authorization headers' fixed parts, parsed, by that text. */
  private readonly parsed = new Map<string, ParsedAuthorization>();

  constructor(options: SigV4VerifierOptions) {
    this.region = options.region;
    this.service = options.service ?? "execute-api";
    this.credentials = options.credentials;
    this.now = options.now ?? Date.now;
    this.canonical = new CanonicalRequests({
      service: this.service,
      region: this.region,
      credentials: this.credentials,
      sha256: Sha256,
    });
  }

  /**
   * Undefined for a valid signature, else why it is refused. `url` as it came in the request line (still escaped);
   * `body` the bytes received, or undefined when they were not read (over the size limit: the signature is then
   * checked against the body's hash the client gave, if any).
   */
  async verify(
    method: string,
    url: string,
    headers: IncomingHttpHeaders,
    body: Uint8Array | undefined,
  ): Promise<SigV4Refusal | undefined> {
    const authorization = headers.authorization;
    if (authorization === undefined) return MISSING;
    // The usual form ends with the signature: the rest of the header is then the same from one request to the next,
    // and parsed once (kept by that text).
    const signatureAt = authorization.lastIndexOf(SIGNATURE);
    const usual = signatureAt > 0 && authorization.length - signatureAt - SIGNATURE.length === 64;
    const fixed = usual ? authorization.slice(0, signatureAt) : "";
    let auth = usual ? this.parsed.get(fixed) : undefined;
    if (auth === undefined) {
      auth = this.parse(authorization, headers);
      if (usual && !auth.refusal) {
        if (this.parsed.size >= 64) this.parsed.clear();
        this.parsed.set(fixed, auth);
      }
    }
    if (auth.refusal) return auth.refusal;
    const given = usual ? authorization.slice(signatureAt + SIGNATURE.length) : auth.signature;

    const amzDate = headers["x-amz-date"];
    const longDate = typeof amzDate === "string" ? amzDate : headers.date ? fromHttpDate(headers.date) : "";
    if (longDate === "") return incomplete(requires(["date"], authorization));
    const time = timeOf(longDate);
    if (Number.isNaN(time)) {
      return incomplete(
        `Date must be in ISO-8601 'basic format'. Got '${longDate}'. See http://en.wikipedia.org/wiki/ISO_8601`,
      );
    }
    if (auth.scopeDate.length !== 8 || !longDate.startsWith(auth.scopeDate)) {
      return invalid(
        `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.scopeDate}' != '${longDate.slice(0, 8)}', from '${longDate}'.`,
      );
    }
    const now = this.now();
    if (time < now - MAX_SKEW_MS) {
      return invalid(
        `Signature expired: ${longDate} is now earlier than ${longDateOf(now - MAX_SKEW_MS)} (${longDateOf(now)} - 5 min.)`,
      );
    }
    if (time > now + MAX_SKEW_MS) {
      return invalid(
        `Signature not yet current: ${longDate} is still later than ${longDateOf(now + MAX_SKEW_MS)} (${longDateOf(now)} + 5 min.)`,
      );
    }
    const token = headers["x-amz-security-token"];
    if ((token ?? "") !== (this.credentials.sessionToken ?? "")) return INVALID_TOKEN;

    const key = this.keys.get(auth.scopeDate) ?? (await this.derive(auth.scopeDate));
    const claimed = headers["x-amz-content-sha256"] as string | undefined;
    const payloadHash = body === undefined ? claimed : body.byteLength === 0 ? EMPTY_HASH : sha256Hex(body);
    // Over the size limit and no hash given: nothing to check the signature against (the request gets its 413).
    if (payloadHash === undefined) return undefined;

    const queryAt = url.indexOf("?");
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    const query = queryAt < 0 ? "" : url.slice(queryAt + 1);
    const canonicalHeaders: Record<string, string> = {};
    for (const name of auth.headerNames) canonicalHeaders[name] = headerValue(headers[name]);
    const canonicalRequest = this.canonical.of(
      method,
      path,
      query === "" ? NO_QUERY : parseQuery(query),
      canonicalHeaders,
      payloadHash,
    );
    const stringToSign = `${ALGORITHM}\n${longDate}\n${auth.scope}\n${sha256Hex(canonicalRequest)}`;
    const expected = createHmac("sha256", key).update(stringToSign).digest();
    const provided = Buffer.from(given, "hex");
    if (given.length === 64 && provided.byteLength === expected.byteLength && timingSafeEqual(provided, expected)) {
      return undefined;
    }
    return invalid(
      `${MISMATCH}\n\nThe Canonical String for this request should have been\n'${canonicalRequest}'\n\nThe String-to-Sign should have been\n'${stringToSign}'\n`,
    );
  }

  /** The day's signing key, from the SDK's derivation, kept for the day. */
  private async derive(shortDate: string): Promise<KeyObject> {
    const key = createSecretKey(await getSigningKey(Sha256, this.credentials, shortDate, this.region, this.service));
    if (this.keys.size >= 4) this.keys.delete(this.keys.keys().next().value as string);
    this.keys.set(shortDate, key);
    return key;
  }

  /** An Authorization header's algorithm, Credential and SignedHeaders, checked against this service's. */
  private parse(authorization: string, headers: IncomingHttpHeaders): ParsedAuthorization {
    const none = { scopeDate: "", scope: "", headerNames: [], signature: "" };
    const space = authorization.indexOf(" ");
    const algorithm = space < 0 ? authorization : authorization.slice(0, space);
    const rest = space < 0 ? "" : authorization.slice(space + 1);
    const parts = new Map<string, string>();
    for (const raw of rest.split(",")) {
      const part = raw.trim();
      if (part === "") continue;
      const equals = part.indexOf("=");
      if (equals < 0) {
        return {
          ...none,
          refusal: incomplete(
            `'${part}' not a valid key=value pair (missing equal-sign) in Authorization header: '${authorization}'.`,
          ),
        };
      }
      parts.set(part.slice(0, equals), part.slice(equals + 1));
    }
    const missing = ["Credential", "Signature", "SignedHeaders"].filter((name) => !parts.has(name));
    if (!headers["x-amz-date"] && !headers.date) missing.push("date");
    if (missing.length > 0) return { ...none, refusal: incomplete(requires(missing, authorization)) };
    if (algorithm !== ALGORITHM) {
      return { ...none, refusal: incomplete(`Unsupported AWS 'algorithm': '${algorithm}'`) };
    }
    const credential = parts.get("Credential") as string;
    const scopeParts = credential.split("/");
    if (scopeParts.length !== 5) {
      return {
        ...none,
        refusal: incomplete(
          `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${credential}'`,
        ),
      };
    }
    const [accessKeyId, scopeDate, region, service, terminator] = scopeParts as [
      string,
      string,
      string,
      string,
      string,
    ];
    if (region !== this.region) {
      return { ...none, refusal: invalid(`Credential should be scoped to a valid region, not '${region}'. `) };
    }
    if (service !== this.service) {
      return { ...none, refusal: invalid(`Credential should be scoped to correct service: '${this.service}'. `) };
    }
    if (terminator !== TERMINATOR) {
      return {
        ...none,
        refusal: invalid(`Credential should be scoped with a valid terminator: '${TERMINATOR}', not '${terminator}'. `),
      };
    }
    if (accessKeyId !== this.credentials.accessKeyId) return { ...none, refusal: INVALID_TOKEN };
    const signedHeaders = parts.get("SignedHeaders") as string;
    const headerNames = signedHeaders.split(";");
    if (!headerNames.includes("host")) {
      return {
        ...none,
        refusal: incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."),
      };
    }
    const signature = parts.get("Signature") as string;
    return { scopeDate, scope: createScope(scopeDate, region, service), headerNames, signature };
  }
}

/** API Gateway's list of what an Authorization header lacks. */
function requires(missing: readonly string[], authorization: string): string {
  const sentences = missing.map((name) =>
    name === "date"
      ? "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
      : `Authorization header requires '${name}' parameter.`,
  );
  return `${sentences.join(" ")} Authorization=${authorization}`;
}

/** A header's canonical value: trimmed, runs of spaces made one (SigV4's canonical headers). */
function headerValue(value: string | string[] | undefined): string {
  if (value === undefined) return "";
  const text = typeof value === "string" ? value : value.join(",");
  return text.trim().replace(/\s+/g, " ");
}

/** A raw query string's parameters, decoded (the SDK escapes them again, as SigV4 has it). */
function parseQuery(query: string): Record<string, string | string[]> {
  const parameters: Record<string, string | string[]> = Object.create(null);
  if (query === "") return parameters;
  for (const pair of query.split("&")) {
    if (pair === "") continue;
    const equals = pair.indexOf("=");
    const name = decode(equals < 0 ? pair : pair.slice(0, equals));
    const value = equals < 0 ? "" : decode(pair.slice(equals + 1));
    const before = parameters[name];
    parameters[name] = before === undefined ? value : [...(Array.isArray(before) ? before : [before]), value];
  }
  return parameters;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
