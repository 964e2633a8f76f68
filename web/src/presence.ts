import { compareCodePoints } from "../../lambda/core/names.ts";

/** A change to the presence list read from a system notice. */
export interface PresenceChange {
  readonly kind: "join" | "leave";
  readonly user: string;
}

const JOINED = / connected$/;
const LEFT = / disconnected$/;

/**
 * Reads "Lucy connected" / "Lucy disconnected" (PROTOCOL §3, §5). The " disconnected" suffix is tested first; a name
 * cannot end "dis" and still match " connected", since that needs the space right before "connected".
 */
export function presenceChange(notice: string): PresenceChange | undefined {
  if (LEFT.test(notice)) return { kind: "leave", user: notice.replace(LEFT, "") };
  if (JOINED.test(notice)) return { kind: "join", user: notice.replace(JOINED, "") };
  return undefined;
}

/** The list as the server gives it: unique names, sorted by code point. */
export const normalisePresence = (users: readonly string[]): string[] => [...new Set(users)].sort(compareCodePoints);

/** Applies one join or leave to a presence list, returning a new list (unique, sorted by code point). */
export function applyPresence(users: readonly string[], change: PresenceChange): string[] {
  if (change.kind === "join") return normalisePresence([...users, change.user]);
  return users.filter((user) => user !== change.user);
}
