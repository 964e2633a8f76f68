/**
 * Requests the front read in one turn of its event loop, column by column (plain arrays and one buffer clone far
 * faster than an object per request): `bodyEnds[i]` is where request i's body ends in `bodies` (it starts where the
 * previous one ends); a POST over the limit has {@link TOO_LARGE} instead, other methods {@link NO_BODY}.
 */
export interface FrontRequests {
  readonly type: "requests";
  readonly ids: number[];
  readonly methods: (string | undefined)[];
  readonly encodedIds: string[];
  readonly bodyEnds: number[];
  readonly bodies: Uint8Array;
}
export const NO_BODY = -1;
export const TOO_LARGE = -2;

/**
 * Answers, column by column: `headers` holds every answer's header names and values in a row, `headerEnds[i]` where
 * answer i's end.
 */
export interface FrontAnswers {
  readonly type: "answers";
  readonly ids: number[];
  readonly statuses: number[];
  readonly headers: (string | number)[];
  readonly headerEnds: number[];
  readonly bodies: (string | undefined)[];
}

/** What the front sends the stack's thread. */
export type FromFront = { type: "listening"; port: number } | FrontRequests;
