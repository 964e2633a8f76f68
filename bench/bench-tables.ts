import type { LocalTableNames } from "../local/local-dynamo.ts";

/** The table names of the benchmarks' own dynalite stores. */
export const benchTables: LocalTableNames = {
  connections: "bench-connections",
  history: "bench-history",
  presence: "bench-presence",
  rates: "bench-rates",
  members: "bench-members",
};
