import type { CfnElement } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import type { ChatFunctionName } from "../../infra/chat-functions.ts";
import type { ChatStack } from "../../infra/chat-stack.ts";
import { flatten } from "./infra-fixture.ts";

/** A function of the chat stack: one of `ChatFunctions`, the broadcast worker, the publish or the events function. */
export type StackFunctionName = ChatFunctionName | "broadcast-worker" | "publish" | "chat-events";

interface PolicyStatement {
  Action: string | string[];
  Resource: unknown;
}

/** Questions the chat stack's tests ask of its template, by construct rather than by hard-coded logical ID. */
export class ChatTemplate {
  constructor(
    readonly template: Template,
    readonly chat: ChatStack,
  ) {}

  /** The logical ID of a construct's CloudFormation resource. */
  logicalId(construct: { node: { defaultChild?: unknown } }): string {
    return this.chat.getLogicalId(construct.node.defaultChild as CfnElement);
  }

  /** A chat function by name. */
  fn(name: StackFunctionName) {
    if (name === "broadcast-worker") return this.chat.broadcastWorkers.worker;
    if (name === "publish") return this.chat.publishApi.fn;
    if (name === "chat-events") return this.chat.events.fn;
    return this.chat.functions.all[name];
  }

  /** The logical ID of a chat function. */
  fnId(name: StackFunctionName): string {
    return this.logicalId(this.fn(name));
  }

  /** The logical ID of a chat function's role. */
  roleId(name: StackFunctionName): string {
    const role = this.fn(name).role;
    if (!role) throw new Error(`${name} has no role`);
    return this.logicalId(role);
  }

  /** The roles whose inline policies allow `action` (sorted), and the resources they allow it on. */
  grantsOf(action: string, onResource?: string): { roles: string[]; resources: string[] } {
    const roles: string[] = [];
    const resources: string[] = [];
    for (const policy of Object.values(this.template.findResources("AWS::IAM::Policy"))) {
      const statements = policy.Properties.PolicyDocument.Statement as PolicyStatement[];
      const matching = statements.filter(
        (s) =>
          [s.Action].flat().includes(action) &&
          (onResource === undefined || [s.Resource].flat().map(flatten).includes(onResource)),
      );
      if (matching.length === 0) continue;
      roles.push(...(policy.Properties.Roles as { Ref: string }[]).map((r) => r.Ref));
      resources.push(...matching.flatMap((s) => [s.Resource].flat().map(flatten)));
    }
    return { roles: roles.sort(), resources: [...new Set(resources)] };
  }

  /** The logical IDs of the roles of these functions, sorted. */
  rolesOf(...names: StackFunctionName[]): string[] {
    return names.map((name) => this.roleId(name)).sort();
  }

  /** The function that a route (by route key) is integrated with. */
  routeTarget(routeKey: string): string {
    const route = Object.values(this.template.findResources("AWS::ApiGatewayV2::Route")).find(
      (r) => r.Properties.RouteKey === routeKey,
    );
    const integrationId = /\{(\w+)\}/.exec(flatten(route?.Properties.Target))?.[1] ?? "";
    const integration = this.template.findResources("AWS::ApiGatewayV2::Integration")[integrationId];
    return functionOfUri(integration?.Properties.IntegrationUri);
  }
}

/** The function a Lambda integration or authorizer URI points at. */
export function functionOfUri(uri: unknown): string {
  const match = /\{(\w+)\.Arn\}/.exec(flatten(uri));
  if (!match?.[1]) throw new Error(`no function in ${flatten(uri)}`);
  return match[1];
}
