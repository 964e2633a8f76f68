import type { App, Environment } from "aws-cdk-lib";
import { ChatStack, type ChatStackProps } from "./chat-stack.ts";
import { SiteStack, type SiteStackProps } from "./site-stack.ts";

/** Properties of the whole chat app. */
export interface ChatAppProps {
  /** Where both stacks go. Default: environment-agnostic (the CLI's account and Region at deploy time). */
  readonly env?: Environment;
  /** Properties of the backend stack. */
  readonly chat?: Omit<ChatStackProps, "env">;
  /** Properties of the site stack, except the chat URLs, which come from the backend stack. */
  readonly site?: Omit<SiteStackProps, "env" | "chat">;
}

/** The two stacks of the app. */
export interface ChatAppStacks {
  readonly chat: ChatStack;
  readonly site: SiteStack;
}

/**
 * Builds the chat's stacks into `app`: the backend (`Chat`) and the site (`ChatSite`), which reads the backend's URLs
 * through cross-stack references and so deploys after it. `infra/app.ts` and the tests both build through here.
 */
export function createChatApp(app: App, props: ChatAppProps = {}): ChatAppStacks {
  const chat = new ChatStack(app, "Chat", {
    ...props.chat,
    env: props.env,
    description: "Serverless chat: WebSocket API, session endpoint, functions and tables",
  });
  const site = new SiteStack(app, "ChatSite", {
    ...props.site,
    env: props.env,
    chat: chat.endpoints,
    description: "Serverless chat: the web page on S3 and CloudFront",
  });
  return { chat, site };
}
