import { RemovalPolicy, Validations } from "aws-cdk-lib";
import { CfnAccount } from "aws-cdk-lib/aws-apigateway";
import { ManagedPolicy, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";

/**
 * The account-wide role API Gateway uses to write REST and WebSocket API logs (HTTP APIs use a service-linked role
 * instead). Without it the WebSocket stage's access logging fails to deploy: "CloudWatch Logs role ARN must be set in
 * account settings to enable logging".
 *
 * The setting is one per account and Region, so deploying this replaces any role already set there, and deleting the
 * stack leaves the setting in place: the role is therefore retained by `cdk destroy`, or every other API in the
 * Region that logs through it would stop logging.
 */
export class ApiGatewayAccount extends Construct {
  /** The account setting; stages that log must be created after it. */
  readonly account: CfnAccount;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const role = new Role(this, "CloudWatchRole", {
      assumedBy: new ServicePrincipal("apigateway.amazonaws.com"),
      description: "Lets API Gateway write REST and WebSocket API logs to CloudWatch Logs (account setting)",
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName("service-role/AmazonAPIGatewayPushToCloudWatchLogs")],
    });
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.account = new CfnAccount(this, "Account", { cloudWatchRoleArn: role.roleArn });
    this.account.node.addDependency(role);
    Validations.of(role).acknowledge({
      id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
      reason:
        "The API Gateway account role serves every REST and WebSocket API of the account and Region, including " +
        "log groups API Gateway creates itself (execution logs), so it cannot be scoped to this stack's log groups; " +
        "AWS maintains this policy for exactly this role.",
    });
  }
}
