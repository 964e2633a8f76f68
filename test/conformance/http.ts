import { ConformanceError } from "./conformance-error.ts";

/** What an HTTP endpoint answered: the status, and the body as JSON when it is JSON. */
export interface HttpAnswer {
  status: number;
  json: unknown;
  text: string;
}

/** POSTs `body` (as is) and reads the answer, bounded by `timeoutMs`. */
export async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<HttpAnswer> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (cause) {
    const reason = cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : "";
    throw new ConformanceError(`POST ${url} failed: ${reason}`, `an answer from ${url}`, "no answer");
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}
