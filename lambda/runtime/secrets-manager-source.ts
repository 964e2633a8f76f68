import type { Agent, IncomingMessage } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";
import { type AwsCredentials, awsErrorType } from "../core/aws-http.ts";
import { type SecretSource, SecretSourceError } from "../core/token-secret.ts";
import { ConfigurationError } from "./environment.ts";

/** Options of {@link secretsManagerSource}. */
export interface SecretsManagerSourceOptions {
  /** The Region whose Secrets Manager is asked, and that the signature's scope names. */
  readonly region: string;
  /** Asked before each read, so credentials a provider refreshes are used as they change. */
  readonly credentials: () => Promise<AwsCredentials>;
  /** Default: {@link secretsManagerEndpoint} of the Region. */
  readonly endpoint?: string;
  /** Default: Node's global agent. */
  readonly agent?: Agent;
}

/** A Secrets Manager answer over this is refused: a secret holds at most 64 KiB, its JSON envelope little more. */
const MAX_RESPONSE_BYTES = 256 * 1024;

/**
 * Error types that mean "later may work": the SDK's throttling and transient error codes (its retry strategy's
 * lists), and Secrets Manager's own `InternalServiceError`.
 */
const RETRYABLE_TYPES = new Set([
  "ThrottlingException",
  "Throttling",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "ThrottledException",
  "SlowDown",
  "PriorRequestNotComplete",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
  "InternalServiceError",
]);

/** Socket errors where no answer came and a new request may get one (the SDK retries the same ones). */
const RETRYABLE_NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * Secrets Manager's public endpoint in a Region (AWS General Reference, "AWS Secrets Manager endpoints and quotas"):
 * `https://secretsmanager.{region}.amazonaws.com`, `.amazonaws.com.cn` in the China Regions.
 */
export const secretsManagerEndpoint = (region: string): string =>
  `https://secretsmanager.${region}.${region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com"}`;

const parseJson = (text: string): Record<string, unknown> => {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === "object" ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
};

/** What Secrets Manager answered, as the secret string or a classified {@link SecretSourceError}. */
function answer(response: IncomingMessage, text: string, arn: string): string {
  const status = response.statusCode ?? 0;
  const body = parseJson(text);
  if (status === 200) return typeof body.SecretString === "string" ? body.SecretString : "";
  const type = awsErrorType(response.headers, body);
  const message = String(body.Message ?? body.message ?? text.slice(0, 200));
  throw new SecretSourceError(`Secrets Manager answered ${status} ${type} for ${arn}: ${message}`, {
    code: type,
    status,
    retryable: status === 429 || status >= 500 || RETRYABLE_TYPES.has(type),
  });
}

/** A network failure (or no answer before `signal` aborted), classified. */
function networkFailure(error: NodeJS.ErrnoException, arn: string, signal?: AbortSignal): SecretSourceError {
  if (signal?.aborted) {
    return new SecretSourceError(`Secrets Manager did not answer in time for ${arn}`, {
      code: "TimeoutError",
      retryable: true,
    });
  }
  const code = error.code ?? error.name;
  return new SecretSourceError(
    `Secrets Manager could not be reached for ${arn}: ${error.message}`,
    { code, retryable: RETRYABLE_NETWORK_CODES.has(code) },
    { cause: error },
  );
}

/**
 * A {@link SecretSource} over Secrets Manager's `GetSecretValue` as one SigV4-signed HTTPS request (the awsJson1_1
 * protocol: `POST /` with `X-Amz-Target: secretsmanager.GetSecretValue` and a JSON body; Secrets Manager API
 * Reference, "GetSecretValue"). No Secrets Manager client, so the functions that read the token key stay small; and
 * no Lambda extension, so it works in every Region that has Secrets Manager. Each failure is classified for the
 * caller's retry (lambda/core/token-secret.ts), which this does not do itself.
 */
export function secretsManagerSource(options: SecretsManagerSourceOptions): SecretSource {
  const url = new URL(options.endpoint ?? secretsManagerEndpoint(options.region));
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const signer = new SignatureV4({
    service: "secretsmanager",
    region: options.region,
    credentials: options.credentials,
    sha256: Sha256,
  });
  return {
    async fetch(arn, signal) {
      const body = JSON.stringify({ SecretId: arn });
      let signed: { headers: Record<string, string> };
      try {
        signed = await signer.sign({
          method: "POST",
          protocol: url.protocol,
          hostname: url.hostname,
          ...(url.port ? { port: Number(url.port) } : {}),
          path: url.pathname,
          query: {},
          headers: {
            host: url.host,
            "content-type": "application/x-amz-json-1.1",
            "content-length": String(Buffer.byteLength(body)),
            "x-amz-target": "secretsmanager.GetSecretValue",
          },
          body,
        });
      } catch (error) {
        throw new SecretSourceError(
          `no AWS credentials to sign the read of ${arn}: ${error instanceof Error ? error.message : error}`,
          { code: "CredentialsError", retryable: false },
          { cause: error },
        );
      }
      return new Promise<string>((resolve, reject) => {
        const request = send(
          {
            method: "POST",
            hostname: url.hostname,
            port: url.port || undefined,
            path: url.pathname,
            headers: signed.headers,
            ...(options.agent ? { agent: options.agent } : {}),
            ...(signal ? { signal } : {}),
          },
          (response) => {
            const chunks: Buffer[] = [];
            let bytes = 0;
            response.on("data", (chunk: Buffer) => {
              bytes += chunk.byteLength;
              if (bytes <= MAX_RESPONSE_BYTES) return void chunks.push(chunk);
              reject(
                new SecretSourceError(`Secrets Manager's answer for ${arn} is over ${MAX_RESPONSE_BYTES} bytes`, {
                  code: "ResponseTooLarge",
                  retryable: false,
                }),
              );
              request.destroy();
            });
            response.once("end", () => {
              try {
                resolve(answer(response, Buffer.concat(chunks).toString("utf8"), arn));
              } catch (error) {
                reject(error);
              }
            });
            response.once("error", (error) => reject(networkFailure(error, arn, signal)));
          },
        );
        request.once("error", (error) => reject(networkFailure(error, arn, signal)));
        request.end(body);
      });
    },
  };
}

/**
 * The function's own credentials, which Lambda puts in `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
 * `AWS_SESSION_TOKEN` (Lambda Developer Guide, "Defined runtime environment variables"), read at each signature. Read
 * here rather than through the SDK's `fromEnv`, which brings about 20 KiB of SDK client code into bundles that
 * otherwise carry none.
 */
export function credentialsFromEnv(
  env: Record<string, string | undefined> = process.env,
): () => Promise<AwsCredentials> {
  return async () => {
    const accessKeyId = env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) {
      throw new ConfigurationError("no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");
    }
    const sessionToken = env.AWS_SESSION_TOKEN;
    return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
  };
}

/**
 * The Secrets Manager source of a Lambda function: the Region from `AWS_REGION` (checked now, at cold start), the
 * function's credentials ({@link credentialsFromEnv}), and the endpoint from `AWS_ENDPOINT_URL_SECRETS_MANAGER` or
 * `AWS_ENDPOINT_URL` when set, as the SDKs' service-specific endpoint setting does. Creating it does no I/O.
 */
export function secretsManagerSourceFromEnv(env: Record<string, string | undefined> = process.env): SecretSource {
  const region = env.AWS_REGION;
  if (!region) throw new ConfigurationError("No AWS Region to read the token secret in: set AWS_REGION");
  const endpoint = env.AWS_ENDPOINT_URL_SECRETS_MANAGER || env.AWS_ENDPOINT_URL || undefined;
  return secretsManagerSource({ region, credentials: credentialsFromEnv(env), ...(endpoint ? { endpoint } : {}) });
}
