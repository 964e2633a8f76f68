import { Stack, Validations } from "aws-cdk-lib";
import type { Grant, IGrantable } from "aws-cdk-lib/aws-iam";
import { flattenCfnReference } from "cdk-nag/lib/utils/flatten-cfn-reference.js";
import { Construct, type IConstruct } from "constructs";

/**
 * A value as cdk-nag spells it inside a finding id, e.g. `<TablesConnectionsF6D675B1.Arn>/index/*`: resolved and
 * flattened by cdk-nag's own function, so an acknowledgement follows a renamed construct instead of going stale.
 */
export function nagText(scope: IConstruct, value: string): string {
  return flattenCfnReference(Stack.of(scope).resolve(value));
}

/**
 * Acknowledges AwsSolutions-IAM5 for every wildcard action and resource that one `grant*` call put into the
 * grantee's policy, with the reason that grant needs them. Only that grant's statements are read, so a wildcard
 * added anywhere else is still reported.
 */
export function acknowledgeGrantWildcards(grantee: IGrantable, grant: Grant, reason: string): void {
  const principal: unknown = grantee.grantPrincipal;
  if (!Construct.isConstruct(principal)) {
    throw new Error("cannot acknowledge the grant's wildcards: its principal is not a construct of this app");
  }
  const findings = new Set<string>();
  for (const statement of grant.principalStatements) {
    for (const action of statement.actions) if (action.includes("*")) findings.add(`Action::${action}`);
    for (const resource of statement.resources) {
      const text = nagText(principal, resource);
      if (text.includes("*")) findings.add(`Resource::${text}`);
    }
  }
  for (const finding of findings)
    Validations.of(principal).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
}
