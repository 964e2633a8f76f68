import { windowPartOf } from "./history-keys.ts";
import { limits } from "./limits.ts";
import { historyTable } from "./tables.ts";

/** A history item as DynamoDB returns it. */
export type HistoryItem = Record<string, unknown>;

/** One query page: the items read (after the TTL filter) and where the next page starts, if anywhere. */
export interface ItemPage {
  Items?: HistoryItem[];
  LastEvaluatedKey?: HistoryItem;
}

/**
 * Reads one query page from `startKey` on, in the reader's direction: of the whole key range, at most `limit` items;
 * or, given `window`, of that window's keys only, with no limit but DynamoDB's 1 MB.
 */
export type ReadPage = (read: { limit?: number; window?: string; startKey?: HistoryItem }) => Promise<ItemPage>;

const sortKey = historyTable.sortKey.name;
const sortKeyOf = (item: HistoryItem): string => String(item[sortKey]);

/**
 * A key range of the history read in key order, one whole rate window at a time. Keys order windows by time, but
 * within a window they order senders, not times (`history-keys.ts`): a window is handed out only once all of it is
 * read, so its messages can be put in time order.
 *
 * The first query reads `firstLimit` items (a page and a little more); a window that query stopped inside is then
 * read to its end with a query of that window's keys alone, and the range goes on from the window's edge with twice
 * the items, up to `limits.historyReadMaxItems`. So a page reads its own windows and one item more, whatever they hold.
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

  constructor(
    private readonly read: ReadPage,
    private readonly channel: string,
    private readonly forward: boolean,
    firstLimit: number,
  ) {
    this.limit = Math.min(firstLimit, limits.historyReadMaxItems);
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

  private async readRange(limit: number): Promise<void> {
    const page = await this.read({ limit, startKey: this.startKey });
    this.started = true;
    this.buffer.push(...(page.Items ?? []));
    this.startKey = page.LastEvaluatedKey;
    // The last item evaluated may be one the TTL filter dropped: it still says where the query stopped.
    this.openWindow = this.startKey === undefined ? undefined : windowPartOf(sortKeyOf(this.startKey));
    this.limit = Math.min(this.limit * 2, limits.historyReadMaxItems);
  }

  /** Reads the rest of `window`, then points the range read past the window's edge. */
  private async finishWindow(window: string): Promise<void> {
    let startKey = this.startKey;
    do {
      const page = await this.read({ window, startKey });
      this.buffer.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    // Window keys are `${window}#…`: the bare window sorts before all of them, `${window}$` after all of them.
    this.startKey = {
      [historyTable.partitionKey.name]: this.channel,
      [sortKey]: this.forward ? `${window}$` : window,
    };
    this.openWindow = undefined;
  }
}
