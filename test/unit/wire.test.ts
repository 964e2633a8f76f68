import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Outbox, type Outgoing } from "../../web/src/outbox.ts";
import { Wire } from "../../web/src/wire.ts";

/** An outbox guarded by `wire` that records what it put on the wire. */
function guardedOutbox(wire: Wire, name: string, sent: string[], online: () => boolean = () => true) {
  const shown = new Map<number, Outgoing["state"]>();
  const outbox: Outbox = new Outbox(
    wire.guard(
      name,
      {
        transmit: (text) => {
          if (!online()) return false;
          sent.push(`${name}: ${text}`);
          return true;
        },
        show: (entry) => shown.set(entry.key, entry.state),
        drop: (entry) => shown.delete(entry.key),
      },
      () => outbox.pump(),
    ),
  );
  return outbox;
}

describe("Wire", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("lets one outbox at a time put a message on the wire, the others going once it is answered", () => {
    const wire = new Wire();
    const sent: string[] = [];
    const channel = guardedOutbox(wire, "channel", sent);
    const direct = guardedOutbox(wire, "dm:Bob", sent);

    channel.add("to the channel");
    direct.add("to Bob");
    expect(sent).toEqual(["channel: to the channel"]);
    expect(wire.holder).toBe("channel");

    channel.confirm("to the channel");
    expect(sent).toEqual(["channel: to the channel", "dm:Bob: to Bob"]);
    expect(wire.holder).toBe("dm:Bob");
  });

  it("frees the wire when the message on it is refused, discarded, taken back or lost with the connection", () => {
    const wire = new Wire();
    const sent: string[] = [];
    const channel = guardedOutbox(wire, "channel", sent);
    const direct = guardedOutbox(wire, "dm:Bob", sent);

    direct.add("one");
    channel.add("waits");
    const refused = direct.refuse();
    expect(refused?.text).toBe("one");
    expect(sent).toEqual(["dm:Bob: one", "channel: waits"]);

    if (refused) direct.discard(refused);
    direct.add("two");
    expect(sent.at(-1)).toBe("channel: waits");
    channel.takeAll();
    expect(sent.at(-1)).toBe("dm:Bob: two");
    direct.disconnected();
    expect(wire.holder).toBeUndefined();

    channel.add("three");
    const timedOut = channel.entries[0];
    vi.advanceTimersByTime(10_000);
    expect(timedOut?.state).toBe("failed");
    expect(wire.holder).toBeUndefined();
  });

  it("keeps the wire free and wakes nobody while no connection is open, so nothing spins", () => {
    const wire = new Wire();
    const sent: string[] = [];
    let online = false;
    const channel = guardedOutbox(wire, "channel", sent, () => online);
    const direct = guardedOutbox(wire, "dm:Bob", sent, () => online);
    channel.add("offline 1");
    direct.add("offline 2");
    expect(wire.holder).toBeUndefined();
    expect(sent).toEqual([]);

    online = true;
    channel.pump();
    direct.pump();
    expect(sent).toEqual(["channel: offline 1"]);
    channel.confirm("offline 1");
    expect(sent).toEqual(["channel: offline 1", "dm:Bob: offline 2"]);
  });

  it("lets a request that is no outbox take the wire and wake the outboxes when it lets go", () => {
    const wire = new Wire();
    const sent: string[] = [];
    const channel = guardedOutbox(wire, "channel", sent);
    expect(wire.take("members")).toBe(true);
    channel.add("after the invite");
    expect(sent).toEqual([]);
    wire.release("channel");
    expect(sent).toEqual([]);
    wire.release("members");
    expect(sent).toEqual(["channel: after the invite"]);
  });
});
