import { isDeepStrictEqual } from "node:util";
import type { ServerFrame } from "../../lambda/core/server-frames.ts";
import type { ChatSocket, Handshake } from "./client.ts";
import { ConformanceError, show } from "./conformance-error.ts";

/** Fails the scenario unless `condition` holds. */
export function check(condition: boolean, message: string, expected: string, received: unknown): asserts condition {
  if (!condition) throw new ConformanceError(message, expected, show(received, 600));
}

/** Fails the scenario unless `actual` deep-equals `expected`. */
export function equal(actual: unknown, expected: unknown, what: string): void {
  check(isDeepStrictEqual(actual, expected), what, show(expected, 600), actual);
}

/** Fails unless the handshake was refused with one of `statuses`. */
export function refused(result: Handshake, statuses: number[], what: string): void {
  if (result.ok) {
    throw new ConformanceError(what, `refused with ${statuses.join(" or ")}`, "the connection was accepted");
  }
  check(statuses.includes(result.status), what, `refused with ${statuses.join(" or ")}`, `HTTP ${result.status}`);
}

/** Fails if `socket` has received any frame that matches. */
export function receivedNone(socket: ChatSocket, predicate: (frame: ServerFrame) => boolean, what: string): void {
  const found = socket.received.filter(predicate);
  check(found.length === 0, `${socket.label} received ${what}`, `no ${what}`, found);
}

/** Sends a ping and waits for its pong: a bounded pause that lets frames already on their way to `socket` arrive. */
export async function roundTrip(socket: ChatSocket): Promise<void> {
  socket.send({ action: "ping" });
  await socket.nextOfType("pong");
}
