import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { RateStore } from "../core/rate-store.ts";
import { type SessionRate, sessionRate } from "../core/session-rate.ts";
import { type AwsClientOptions, documentClient } from "./aws-clients.ts";
import { positiveIntEnv, requireEnv } from "./environment.ts";

/**
 * The rate of new sessions per source IP, from `CHAT_SESSION_RATE` (sessions per minute; CDK always sets it, the
 * local stack only when asked, since every local client is 127.0.0.1) counted in the rates table (`RATES_TABLE`,
 * required with it). Undefined when `CHAT_SESSION_RATE` is not set: no limit.
 */
export function sessionRateFromEnv(
  env: Record<string, string | undefined> = process.env,
  options: { readonly aws?: AwsClientOptions; readonly documentClient?: DynamoDBDocumentClient } = {},
): SessionRate | undefined {
  const perMinute = positiveIntEnv("CHAT_SESSION_RATE", env);
  if (perMinute === undefined) return undefined;
  const store = new RateStore(options.documentClient ?? documentClient(options.aws), requireEnv("RATES_TABLE", env));
  return sessionRate((key, rule) => store.take(key, rule), perMinute);
}
