import type { AddressInfo } from "node:net";
import dynalite from "dynalite";

/**
 * dynalite in a process of its own, for the soak: the stored data then does not count in the heap the soak measures.
 * Tells its parent `{ type: "ready", port }` and exits when the parent goes away.
 */
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
process.on("disconnect", () => process.exit(0));
server.listen(0, "127.0.0.1", () => process.send?.({ type: "ready", port: (server.address() as AddressInfo).port }));
