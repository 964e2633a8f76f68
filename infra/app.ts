import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { chatAppPropsFromContext } from "./app-context.ts";
import { createChatApp } from "./chat-app.ts";

// The CDK app `cdk.json` runs (`npx tsx infra/app.ts`): the chat's two stacks, configured from the context
// (docs/deploy.md), checked by cdk-nag's AWS Solutions rules. A finding that is not acknowledged with its reason in
// the construct it concerns is an error and stops the synth.
const app = new App();
// The CLI sets CDK_DEFAULT_REGION to the Region it deploys the (environment-agnostic) stacks to.
createChatApp(app, chatAppPropsFromContext(app.node, { region: process.env.CDK_DEFAULT_REGION }));
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
