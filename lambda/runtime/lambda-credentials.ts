import { fromEnv } from "@aws-sdk/credential-provider-env";

/**
 * What the functions' bundles use in place of `@aws-sdk/credential-provider-node` (an esbuild alias set in
 * infra/chat-function.ts): in Lambda the credentials are always in the environment, so the default chain's SSO, STS,
 * INI, process and IMDS providers, and the clients they bring, would be dead weight in every bundle (about 120 KiB
 * minified) and in every cold start.
 */
export const defaultProvider = (): ReturnType<typeof fromEnv> => fromEnv();
