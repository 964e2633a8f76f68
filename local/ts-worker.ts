import { Worker } from "node:worker_threads";

/**
 * A worker thread running the TypeScript module `entry`, whichever way the stack was started (`tsx` for `npm start`,
 * Vite's transform under vitest): a thread does not inherit the loader hooks of the one that made it, so it registers
 * tsx's itself before importing the module.
 */
export function tsWorker(entry: URL, workerData: unknown): Worker {
  const tsx = import.meta.resolve("tsx/esm/api");
  const code = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(code, { eval: true, workerData });
}
