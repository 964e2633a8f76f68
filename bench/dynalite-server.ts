import { startLocalDynamo } from "../local/local-dynamo.ts";
import { benchTables } from "./bench-tables.ts";
import { exitWithParent } from "./child.ts";

/** What the dynalite helper says when it is ready: its endpoint, its tables made. */
export interface DynaliteReady {
  type: "ready";
  endpoint: string;
}

/** Run as a helper (never imported for its values: it starts the store): dynalite with the chat's tables in a process of its own, so that its CPU is not the measuring process's. */
exitWithParent();
const dynamo = await startLocalDynamo(benchTables);
process.once("SIGTERM", () => process.exit(0));
process.send?.({ type: "ready", endpoint: dynamo.endpoint } satisfies DynaliteReady);
