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

/** Reads one query page of at most `limit` items from `startKey` on, in the reader's direction. */
export type ReadPage = (limit: number, startKey: HistoryItem | undefined) => Promise<ItemPage>;

const sortKeyOf = (item: HistoryItem): string => String(item[historyTable.sortKey.name]);

/**
 * A key range of the history read in key order, one whole rate window at a time. Keys order windows by time, but
 * within a window they order senders, not times (`history-keys.ts`): a window is handed out only once all of it is
 * read, so its messages can be put in time order. The first query reads `firstLimit` items and each further query
 * twice as many, up to `limits.historyReadMaxItems`: a quiet channel costs one small read, a window of thousands of
 * messages a few large ones.
 */
export class WindowReader {
  /** Items read and not yet handed out, in key order. */
  private readonly buffer: HistoryItem[] = [];
  private startKey: HistoryItem | undefined;
  /** The sort key of the last item the queries evaluated (kept or filtered out). */
  private reached: string | undefined;
  private done = false;
  private limit: number;

  constructor(
    private readonly read: ReadPage,
    firstLimit: number,
  ) {
    this.limit = Math.min(firstLimit, limits.historyReadMaxItems);
  }

  /** The items of the next window, all of them, in key order; undefined once the range is read. */
  async next(): Promise<HistoryItem[] | undefined> {
    for (;;) {
      const window = this.completeWindow();
      if (window) return window;
      if (this.done) return undefined;
      await this.readPage();
    }
  }

  /** Whether any item is left past the windows handed out; reads on only until it finds one. */
  async any(): Promise<boolean> {
    while (this.buffer.length === 0 && !this.done) await this.readPage();
    return this.buffer.length > 0;
  }

  /** The first window of the buffer, if the queries have gone past its end. */
  private completeWindow(): HistoryItem[] | undefined {
    const first = this.buffer[0];
    if (!first) return undefined;
    const window = windowPartOf(sortKeyOf(first));
    let end = this.buffer.findIndex((item) => windowPartOf(sortKeyOf(item)) !== window);
    if (end === -1) {
      // The last item evaluated may be one the TTL filter dropped: it still says how far the query got.
      if (!this.done && this.reached !== undefined && windowPartOf(this.reached) === window) return undefined;
      end = this.buffer.length;
    }
    return this.buffer.splice(0, end);
  }

  private async readPage(): Promise<void> {
    const page = await this.read(this.limit, this.startKey);
    this.buffer.push(...(page.Items ?? []));
    this.startKey = page.LastEvaluatedKey;
    this.done = this.startKey === undefined;
    this.reached = this.startKey === undefined ? undefined : sortKeyOf(this.startKey);
    this.limit = Math.min(this.limit * 2, limits.historyReadMaxItems);
  }
}
