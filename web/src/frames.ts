import * as v from "valibot";
import { type ServerFrame, serverFrameSchema } from "../../lambda/core/server-frames.ts";

/**
 * Reads one frame from the server against the protocol's own schema. Anything else (a binary frame, a frame of a
 * newer server) is `undefined`, so the page ignores it instead of rendering half a shape.
 */
export function parseServerFrame(data: unknown): ServerFrame | undefined {
  if (typeof data !== "string") return undefined;
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return undefined;
  }
  const result = v.safeParse(serverFrameSchema, json);
  return result.success ? result.output : undefined;
}
