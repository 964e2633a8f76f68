/**
 * The code of a worker thread (`new Worker(code, { eval: true })`) that runs the TypeScript module `entry`, whichever
 * way the stack was started (`tsx` for `npm start`, Vite's transform under vitest): a thread does not inherit the
 * loader hooks of the one that made it, so it registers tsx's itself before importing the module.
 */
export function tsWorkerBootstrap(entry: URL): string {
  const tsx = import.meta.resolve("tsx/esm/api");
  return `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
}
