import type { IncomingHttpHeaders } from "node:http";

// What the lean signed-HTTP clients of AWS services (the poster and the Secrets Manager source) share.

/** AWS credentials as SigV4 needs them. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/**
 * An AWS JSON service's error type, as the SDK reads it: the `x-amzn-errortype` header (up to a `:`), else the body's
 * `__type` or `code` (after a `#` namespace), else `"Unknown"`. `body` is the parsed JSON answer (anything else counts
 * as no body).
 */
export function awsErrorType(headers: IncomingHttpHeaders, body: unknown): string {
  const header = headers["x-amzn-errortype"];
  if (typeof header === "string" && header) return header.split(":")[0] ?? header;
  if (body === null || typeof body !== "object") return "Unknown";
  const { __type, code } = body as { __type?: unknown; code?: unknown };
  const type = typeof __type === "string" ? __type : code;
  return typeof type === "string" && type ? (type.split("#").pop() ?? type) : "Unknown";
}
