import type { Scenario, Unprovokable } from "./scenario.ts";
import { broadcast, joinAndLeave, ping, plainText, presence, subprotocol } from "./scenarios-channel.ts";
import { historyPaging } from "./scenarios-history.ts";
import { binaryFrame, errorCodes, frameTooLarge, rateLimit, unprovokable } from "./scenarios-limits.ts";
import { handshakeRefusals, sessionBad, sessionGood, sessionOidcRefusals } from "./scenarios-session.ts";
import {
  connectionsByUser,
  directMessages,
  floodingConnectionClosed,
  privateChannel,
  rateByUser,
} from "./scenarios-users.ts";

/**
 * The protocol's scenarios (PROTOCOL.md v2), in the order a report reads best: sessions, handshakes, the channel,
 * errors and limits, private channels and direct messages, and last the rates, which wait for the start of a rate
 * window.
 */
export const scenarios: readonly Scenario[] = [
  sessionGood,
  sessionBad,
  sessionOidcRefusals,
  handshakeRefusals,
  subprotocol,
  ping,
  joinAndLeave,
  broadcast,
  plainText,
  presence,
  historyPaging,
  errorCodes,
  frameTooLarge,
  binaryFrame,
  privateChannel,
  directMessages,
  connectionsByUser,
  floodingConnectionClosed,
  rateLimit,
  rateByUser,
];

/** What the suite reports as skipped because it cannot be provoked from outside. */
export const notProvokable: readonly Unprovokable[] = unprovokable;

export type { Scenario, Unprovokable };
