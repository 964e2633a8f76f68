import { copyFile, mkdir, readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const webDir = fileURLToPath(new URL(".", import.meta.url));

/** What `buildWeb` wrote: the absolute output folder and the absolute path of every file in it. */
export interface WebBuild {
  outdir: string;
  files: string[];
}

/**
 * Bundles the chat page: `web/src/main.ts` → `app.js`, `web/src/styles.css` → `app.css` (both minified, with source
 * maps) and `web/index.html`, all into `outdir` (relative to the working directory). No inline script or style is
 * produced, so the page runs under a CSP without `'unsafe-inline'`.
 */
export async function buildWeb(outdir = "dist/web"): Promise<WebBuild> {
  const out = resolve(outdir);
  await mkdir(out, { recursive: true });
  const common = { bundle: true, minify: true, sourcemap: true, write: true, logLevel: "warning" } as const;
  const [script, style] = await Promise.all([
    build({
      ...common,
      entryPoints: [join(webDir, "src/main.ts")],
      outfile: join(out, "app.js"),
      format: "esm",
      platform: "browser",
      target: "es2022",
      metafile: true,
    }),
    build({
      ...common,
      entryPoints: [join(webDir, "src/styles.css")],
      outfile: join(out, "app.css"),
      // Browsers from 2023 on; esbuild lowers nothing the stylesheet uses for them.
      target: ["chrome110", "firefox110", "safari16"],
      metafile: true,
    }),
  ]);
  const html = join(out, "index.html");
  await copyFile(join(webDir, "index.html"), html);
  const written = [...Object.keys(script.metafile.outputs), ...Object.keys(style.metafile.outputs)].map((file) =>
    resolve(file),
  );
  return { outdir: out, files: [...written, html].sort() };
}

/** Gzipped size of each shipped (non-map) file, as the 30 KB budget counts it. */
export async function gzipSizes(files: readonly string[]): Promise<{ file: string; bytes: number; gzip: number }[]> {
  const shipped = files.filter((file) => !file.endsWith(".map"));
  return Promise.all(
    shipped.map(async (file) => {
      const content = await readFile(file);
      return { file: basename(file), bytes: content.byteLength, gzip: gzipSync(content, { level: 9 }).byteLength };
    }),
  );
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;

if (isMain) {
  const result = await buildWeb(process.argv[2]);
  const sizes = await gzipSizes(result.files);
  for (const { file, bytes, gzip } of sizes) {
    console.log(`${file.padEnd(12)} ${String(bytes).padStart(7)} B   ${String(gzip).padStart(6)} B gzip`);
  }
  const code = sizes.filter(({ file }) => /\.(js|css)$/.test(file)).reduce((sum, { gzip }) => sum + gzip, 0);
  console.log(`JS + CSS: ${(code / 1024).toFixed(1)} KiB gzip (budget 30 KB) → ${result.outdir}`);
}
