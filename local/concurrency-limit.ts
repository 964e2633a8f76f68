/**
 * At most `limit` holders at once. The others wait by key (the local stack keys invocations by connection): keys take
 * turns, each key's waiters in arrival order, so one client with a hundred frames queued delays another's frame by
 * one turn, not by a hundred invocations. On AWS every invocation gets an instance of its own up to the account's
 * concurrency, and one client's frames never queue ahead of another's; the local stack must bound its invocations
 * (each holds its pending posts in this process), and taking turns keeps that bound from becoming a queue one client
 * can fill.
 */
export class ConcurrencyLimit {
  private running = 0;
  /** Waiters by key, keys in the order their turn comes (a Map keeps insertion order). */
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError("the concurrency limit must be a positive integer");
  }

  /** Resolves when a place is free for `key`; every acquire needs one {@link release}. */
  acquire(key = ""): Promise<void> {
    if (this.running < this.limit) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const queue = this.waiting.get(key);
      if (queue) queue.push(resolve);
      else this.waiting.set(key, [resolve]);
    });
  }

  /** Frees a place, handing it straight to the first waiter of the key whose turn it is, which then goes last. */
  release(): void {
    const turn = this.waiting.entries().next();
    if (turn.done) {
      this.running--;
      return;
    }
    const [key, queue] = turn.value;
    const next = queue.shift() as () => void;
    this.waiting.delete(key);
    if (queue.length > 0) this.waiting.set(key, queue);
    next();
  }
}
