import { createHash } from "node:crypto";
import { Stack } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

/** The longest Region name budgeted for when the Region is only known at deploy time (`ap-southeast-5` is 14). */
const MAX_REGION_LENGTH = 16;

/**
 * A name for a CloudFront resource that must be unique in the account — policies and origin access controls are
 * global, so the same stack deployed in two Regions would otherwise collide — made of the stack's name, its Region
 * and `suffix`, within `maxLength` (a long stack name is cut and given a hash of itself, so names stay distinct).
 */
export function cloudFrontName(scope: IConstruct, suffix: string, maxLength: number): string {
  const stack = Stack.of(scope);
  const budget = maxLength - MAX_REGION_LENGTH - suffix.length - 2;
  let stackPart = stack.stackName;
  if (stackPart.length > budget) {
    const hash = createHash("sha256").update(stackPart).digest("hex").slice(0, 8);
    stackPart = `${stackPart.slice(0, budget - hash.length - 1)}-${hash}`;
  }
  return `${stackPart}-${stack.region}-${suffix}`;
}
