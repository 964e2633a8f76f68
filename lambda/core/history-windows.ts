import { windowPartOf } from "./history-keys.ts";
import { limits } from "./limits.ts";
import { historyTable } from "./tables.ts";

/**
 * A page of history would read more than a request may (`limits.historyRequestMaxItems` items or
 * `limits.historyRequestMaxQueries` queries): some rate window holds more messages than that, and keys order them by
 * sender, not time, so no exact page can be cut from it without reading it whole (see {@link WindowReader}).
 */
export class HistoryReadLimitError extends Error {
  constructor(
    readonly maxItems: number,
    readonly maxQueries: number,
  ) {
    super(`a history page would read more than ${maxItems} items or ${maxQueries} queries`);
    this.name = "HistoryReadLimitError";
  }
}

/** What one request may read: `maxItems` items evaluated (each query's `Limit` is what is left), `maxQueries` queries. */
export interface ReadCap {
  readonly maxItems: number;
  readonly maxQueries: number;
}

/** A history item as DynamoDB returns it. */
export type HistoryItem = Record<string, unknown>;

/** One query page: the items read (after the TTL filter) and where the next page starts, if anywhere. */
export interface ItemPage {
  Items?: HistoryItem[];
  LastEvaluatedKey?: HistoryItem;
  /** Items the query evaluated, before the TTL filter. */
  ScannedCount?: number;
}

/**
 * Reads one query page from `startKey` on, in the reader's direction, at most `limit` items: of the whole key range,
 * or, given `window`, of that window's keys only. DynamoDB also ends a page at 1 MB read.
 */
export type ReadPage = (read: { limit: number; window?: string; startKey?: HistoryItem }) => Promise<ItemPage>;

const sortKey = historyTable.sortKey.name;
const sortKeyOf = (item: HistoryItem): string => String(item[sortKey]);

/**
 * A key range of the history read in key order, one whole rate window at a time. Keys order windows by time, but
 * within a window they order senders, not times (`history-keys.ts`): a window is handed out only once all of it is
 * read, so its messages can be put in time order.
 *
 * The first query reads `firstLimit` items (a page and a little more); a window that query stopped inside is then
 * read to its end with a query of that window's keys alone, and the range goes on from the window's edge with twice
 * the items, up to `limits.historyReadMaxItems`. So a page reads its own windows and one item more.
 *
 * Every query counts against the request's {@link ReadCap}: each `Limit` is at most the items left, and a read the cap
 * does not allow throws {@link HistoryReadLimitError} instead. A window of a flooded channel (20 items per sender, up
 * to 4,000 characters each) is thus never read whole past the cap: 2,000 senders would be 40,000 items, ~160 MB.
 */
export class WindowReader {
  /** Items read and not yet handed out, in key order. */
  private readonly buffer: HistoryItem[] = [];
  /** Where the range read goes on; undefined once it is read to its end. */
  private startKey: HistoryItem | undefined;
  private started = false;
  /** The window the last range query stopped inside, until that window is read to its end. */
  private openWindow: string | undefined;
  private limit: number;
  /** Items and queries the cap still allows. */
  private itemsLeft: number;
  private queriesLeft: number;

  constructor(
    private readonly read: ReadPage,
    private readonly channel: string,
    private readonly forward: boolean,
    firstLimit: number,
    private readonly cap: ReadCap,
  ) {
    this.limit = Math.min(firstLimit, limits.historyReadMaxItems);
    this.itemsLeft = cap.maxItems;
    this.queriesLeft = cap.maxQueries;
  }

  /** Items read and not yet handed out, in key order (those of a window the cap stopped inside, say). */
  get buffered(): readonly HistoryItem[] {
    return this.buffer;
  }

  /** The items of the next window, all of them, in key order; undefined once the range is read. */
  async next(): Promise<HistoryItem[] | undefined> {
    for (;;) {
      const window = this.completeWindow();
      if (window) return window;
      if (this.openWindow !== undefined && this.buffer.length > 0) await this.finishWindow(this.openWindow);
      else if (this.done) return undefined;
      else await this.readRange(this.limit);
    }
  }

  /** Whether any item is left past the windows handed out; reads on, a few items at a time, until it finds one. */
  async any(): Promise<boolean> {
    for (let limit = 1; this.buffer.length === 0 && !this.done; limit = Math.min(limit * 2, this.limit)) {
      await this.readRange(limit);
    }
    return this.buffer.length > 0;
  }

  private get done(): boolean {
    return this.started && this.startKey === undefined;
  }

  /** The first window of the buffer, if all of it is read. */
  private completeWindow(): HistoryItem[] | undefined {
    const first = this.buffer[0];
    if (!first) return undefined;
    const window = windowPartOf(sortKeyOf(first));
    let end = this.buffer.findIndex((item) => windowPartOf(sortKeyOf(item)) !== window);
    if (end === -1) {
      if (window === this.openWindow) return undefined;
      end = this.buffer.length;
    }
    return this.buffer.splice(0, end);
  }

  /** One query of at most `limit` items, within the cap, or {@link HistoryReadLimitError}. */
  private async capped(read: { limit: number; window?: string; startKey?: HistoryItem }): Promise<ItemPage> {
    const limit = Math.min(read.limit, this.itemsLeft);
    if (limit < 1 || this.queriesLeft < 1) throw new HistoryReadLimitError(this.cap.maxItems, this.cap.maxQueries);
    this.queriesLeft--;
    const page = await this.read({ ...read, limit });
    // What it evaluated, never more than `limit`: a query DynamoDB ended at 1 MB leaves the rest of the cap to the next.
    this.itemsLeft -= Math.min(limit, page.ScannedCount ?? page.Items?.length ?? 0);
    return page;
  }

  private async readRange(limit: number): Promise<void> {
    const page = await this.capped({ limit, startKey: this.startKey });
    this.started = true;
    this.buffer.push(...(page.Items ?? []));
    this.startKey = page.LastEvaluatedKey;
    // The last item evaluated may be one the TTL filter dropped: it still says where the query stopped.
    this.openWindow = this.startKey === undefined ? undefined : windowPartOf(sortKeyOf(this.startKey));
    this.limit = Math.min(this.limit * 2, limits.historyReadMaxItems);
  }

  /**
   * Reads the rest of `window`, as much of it as the cap allows in one query, then points the range read past the
   * window's edge. Progress is kept as it goes, so a window the cap stops inside leaves what was read in the buffer.
   */
  private async finishWindow(window: string): Promise<void> {
    do {
      const page = await this.capped({ limit: this.itemsLeft, window, startKey: this.startKey });
      this.buffer.push(...(page.Items ?? []));
      this.startKey = page.LastEvaluatedKey;
    } while (this.startKey);
    // Window keys are `${window}#…`: the bare window sorts before all of them, `${window}$` after all of them.
    this.startKey = {
      [historyTable.partitionKey.name]: this.channel,
      [sortKey]: this.forward ? `${window}$` : window,
    };
    this.openWindow = undefined;
  }
}
