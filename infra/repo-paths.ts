import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository root, found from this file rather than the working directory, so `cdk synth`, the tests and an IDE
 * resolve the same paths wherever they are started from.
 */
export const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/** The Lambda entry files under `lambda/entry/`, one per function. */
export type LambdaEntryName =
  | "authorizer"
  | "connect"
  | "message"
  | "disconnect"
  | "session"
  | "broadcast-worker"
  | "publish"
  | "chat-events";

/** The path of a Lambda entry file; throws when it is missing so a renamed entry fails synth, not the deploy. */
export function lambdaEntry(name: LambdaEntryName): string {
  const path = join(repoRoot, "lambda", "entry", `${name}.ts`);
  if (!existsSync(path)) throw new Error(`Lambda entry ${path} does not exist`);
  return path;
}

/** Where `npm run build` writes the page (index.html, app.js, app.css). */
export const defaultSiteAssetsDir = join(repoRoot, "dist", "web");
