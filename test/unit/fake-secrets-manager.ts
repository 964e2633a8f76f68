import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SECRET } from "../fixtures.ts";

/** The token secret's ARN in these tests. */
export const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:chat-token-AbCdEf";

/** Credentials the tests sign with (AWS's documented example keys). */
export const TEST_CREDENTIALS = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  sessionToken: "session-token-of-this-environment",
};

/** One request as it arrived. */
export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: Buffer;
}

/**
 * How the fake answers one request: an AWS JSON error (`__type`, as awsJson1_1 sends it), a secret, the connection
 * reset without an answer, or no answer at all.
 */
export type FakeAnswer =
  | { readonly status: 200; readonly secret?: string }
  | { readonly status: number; readonly type: string; readonly message?: string }
  | "reset"
  | "hang";

/** Answers a request, given it and how many requests (this one included) are being served now. */
export type Script = (request: ReceivedRequest, index: number, inFlight: number) => FakeAnswer;

/** The fake's default: every read gets the secret. */
export const alwaysTheSecret: Script = () => ({ status: 200 });

/** A stand-in for Secrets Manager's `GetSecretValue` on 127.0.0.1, answering as its script says. */
export interface FakeSecretsManager {
  /** `http://127.0.0.1:{port}`. */
  readonly endpoint: string;
  /** Every request that arrived, answered or not. */
  readonly requests: ReceivedRequest[];
  /** What the fake answered (or did), in order. */
  readonly answers: FakeAnswer[];
  /** The script for the requests to come. */
  script: Script;
  /** Stops listening, so connections are refused; `listen()` takes the same port again. */
  stopListening(): Promise<void>;
  listen(): Promise<void>;
  close(): Promise<void>;
}

function respond(response: ServerResponse, answer: Exclude<FakeAnswer, "reset" | "hang">): void {
  const body =
    answer.status === 200
      ? JSON.stringify({
          ARN: SECRET_ARN,
          Name: "chat-token",
          SecretString: "secret" in answer && answer.secret !== undefined ? answer.secret : SECRET,
          VersionId: "v1",
          VersionStages: ["AWSCURRENT"],
          CreatedDate: 1_764_082_800,
        })
      : JSON.stringify({
          __type: "type" in answer ? answer.type : "Unknown",
          message: "message" in answer ? answer.message : "",
        });
  response.writeHead(answer.status, {
    "content-type": "application/x-amz-json-1.1",
    "content-length": Buffer.byteLength(body),
    "x-amzn-requestid": `req-${Math.random().toString(16).slice(2)}`,
  });
  response.end(body);
}

/** Starts a {@link FakeSecretsManager}; `delayMs` holds each answer that long, so requests overlap. */
export async function startFakeSecretsManager(
  script: Script = alwaysTheSecret,
  delayMs = 0,
): Promise<FakeSecretsManager> {
  let inFlight = 0;
  const requests: ReceivedRequest[] = [];
  const answers: FakeAnswer[] = [];
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer((request, response) => {
    inFlight++;
    response.once("close", () => inFlight--);
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const received = {
        method: request.method ?? "",
        url: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(received);
      const answer = fake.script(received, requests.length, inFlight);
      answers.push(answer);
      if (answer === "reset") return void request.socket.destroy();
      if (answer === "hang") return void hanging.add(response);
      if (delayMs > 0) setTimeout(() => respond(response, answer), delayMs);
      else respond(response, answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const response of hanging) response.destroy();
      hanging.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  const fake: FakeSecretsManager = {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    answers,
    script,
    stopListening: stop,
    listen: () => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve)),
    close: () => (server.listening ? stop() : Promise.resolve()),
  };
  return fake;
}

/** An AWS JSON error answer. */
export const awsError = (status: number, type: string, message = `${type} (test)`): FakeAnswer => ({
  status,
  type,
  message,
});

/** A throttling answer, as Secrets Manager sends it: 400 with `ThrottlingException`. */
export const throttled = awsError(400, "ThrottlingException", "Rate exceeded");

/** The answer to a role without `secretsmanager:GetSecretValue` on the secret. */
export const accessDenied = awsError(
  400,
  "AccessDeniedException",
  "User: arn:aws:sts::123456789012:assumed-role/chat-authorizer is not authorized to perform: secretsmanager:GetSecretValue",
);
