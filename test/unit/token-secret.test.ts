import { describe, expect, it } from "vitest";
import {
  readSecretWithRetry,
  type SecretSource,
  SecretSourceError,
  TokenSecretUnavailableError,
  tokenSecretLimits,
  untilLoaded,
} from "../../lambda/core/token-secret.ts";

const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:chat-token-AbCdEf";
const throttling = () =>
  new SecretSourceError("throttled", { code: "ThrottlingException", status: 400, retryable: true });
const denied = () => new SecretSourceError("denied", { code: "AccessDeniedException", status: 400, retryable: false });

/** A source that fails with the given errors, in order, then answers the secret; it counts its reads. */
function scriptedSource(...failures: Error[]): SecretSource & { reads: number; signals: (AbortSignal | undefined)[] } {
  const source = {
    reads: 0,
    signals: [] as (AbortSignal | undefined)[],
    async fetch(_arn: string, signal?: AbortSignal) {
      source.reads++;
      source.signals.push(signal);
      const failure = failures.shift();
      if (failure) throw failure;
      return "the-secret";
    },
  };
  return source;
}

/** A fake clock that only moves when the retry waits; it records the waits. */
function fakeClock() {
  const clock = { t: 0, waits: [] as number[] };
  return {
    clock,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.waits.push(ms);
      clock.t += ms;
    },
  };
}

async function unavailable(read: Promise<unknown>): Promise<TokenSecretUnavailableError> {
  const error = await read.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenSecretUnavailableError);
  return error as TokenSecretUnavailableError;
}

describe("readSecretWithRetry", () => {
  it("retries passing failures with jittered, growing, capped waits, then returns the secret", async () => {
    const source = scriptedSource(throttling(), throttling(), throttling(), throttling(), throttling());
    const { clock, now, sleep } = fakeClock();
    const secret = await readSecretWithRetry(source, ARN, { now, sleep, random: () => 0.999, budgetMs: 60_000 });
    expect(secret).toBe("the-secret");
    expect(source.reads).toBe(6);
    // Full jitter at its top: base × 2^(n-1) just under, never above the cap.
    expect(clock.waits).toEqual([99, 199, 399, 799, 1_000]);
  });

  it("draws each wait at random below its bound", async () => {
    const source = scriptedSource(throttling(), throttling());
    const { clock, now, sleep } = fakeClock();
    await readSecretWithRetry(source, ARN, { now, sleep, random: () => 0.5 });
    expect(clock.waits).toEqual([50, 100]);
  });

  it("gives up after the bounded number of attempts, keeping the last failure as the cause", async () => {
    const source = scriptedSource(...Array.from({ length: 10 }, throttling));
    const { now, sleep } = fakeClock();
    const error = await unavailable(readSecretWithRetry(source, ARN, { now, sleep, random: () => 0 }));
    expect(source.reads).toBe(tokenSecretLimits.maxAttempts);
    expect(error.attempts).toBe(tokenSecretLimits.maxAttempts);
    expect(error.cause).toBeInstanceOf(SecretSourceError);
    expect(error.message).toMatch(/could not be read in 6 attempts within 5000 ms: throttled/);
    expect(error.message).not.toBe("Unauthorized");
  });

  it("gives up when the next wait would end past the time budget", async () => {
    const source = scriptedSource(...Array.from({ length: 10 }, throttling));
    const { clock, now, sleep } = fakeClock();
    const error = await unavailable(
      readSecretWithRetry(source, ARN, { now, sleep, random: () => 0.999, budgetMs: 1_000, maxAttempts: 20 }),
    );
    expect(clock.waits).toEqual([99, 199, 399]);
    expect(error.attempts).toBe(4);
    expect(clock.t).toBeLessThan(1_000);
  });

  it("does not retry a failure that will not pass", async () => {
    const source = scriptedSource(denied());
    const { clock, now, sleep } = fakeClock();
    const error = await unavailable(readSecretWithRetry(source, ARN, { now, sleep }));
    expect(source.reads).toBe(1);
    expect(clock.waits).toEqual([]);
    expect(error.attempts).toBe(1);
    expect(error.message).toBe("the token secret cannot be read: denied");
  });

  it("does not retry errors that are not the source's own (a bug, not an outage)", async () => {
    const source = scriptedSource(new TypeError("boom"));
    await unavailable(readSecretWithRetry(source, ARN, fakeClock()));
    expect(source.reads).toBe(1);
  });

  it("refuses an empty secret without retrying", async () => {
    const source: SecretSource = { fetch: async () => "" };
    const error = await unavailable(readSecretWithRetry(source, ARN, fakeClock()));
    expect(error.message).toMatch(/has no string value/);
  });

  it("hands each read a signal that aborts after the attempt's timeout", async () => {
    let reads = 0;
    const hanging: SecretSource = {
      fetch: (_arn, signal) =>
        new Promise((_, reject) => {
          reads++;
          signal?.addEventListener("abort", () =>
            reject(new SecretSourceError("no answer", { code: "TimeoutError", retryable: true })),
          );
        }),
    };
    const error = await unavailable(
      readSecretWithRetry(hanging, ARN, { attemptTimeoutMs: 20, maxAttempts: 3, sleep: async () => {} }),
    );
    expect(reads).toBe(3);
    expect(error.message).toMatch(/3 attempts.*no answer/);
  });

  it("tells of each retry before waiting", async () => {
    const told: [string, number, number][] = [];
    await readSecretWithRetry(scriptedSource(throttling()), ARN, {
      ...fakeClock(),
      random: () => 0,
      onRetry: (error, attempt, delayMs) => told.push([error.code, attempt, delayMs]),
    });
    expect(told).toEqual([["ThrottlingException", 1, 0]]);
  });
});

describe("untilLoaded", () => {
  it("loads once for any number of callers, while pending and after", async () => {
    let loads = 0;
    let release: (value: string) => void = () => {};
    const get = untilLoaded(() => {
      loads++;
      return new Promise<string>((resolve) => {
        release = resolve;
      });
    });
    const waiting = Array.from({ length: 50 }, () => get());
    release("key");
    expect(await Promise.all(waiting)).toEqual(Array(50).fill("key"));
    await expect(get()).resolves.toBe("key");
    expect(loads).toBe(1);
  });

  it("drops a failure, so the next call loads again", async () => {
    let loads = 0;
    const get = untilLoaded(async () => {
      loads++;
      if (loads === 1) throw new Error("not yet");
      return "key";
    });
    const first = [get(), get()];
    await expect(Promise.all(first)).rejects.toThrow("not yet");
    await expect(get()).resolves.toBe("key");
    await expect(get()).resolves.toBe("key");
    expect(loads).toBe(2);
  });

  it("does nothing until first called", () => {
    let loads = 0;
    untilLoaded(async () => ++loads);
    expect(loads).toBe(0);
  });
});
