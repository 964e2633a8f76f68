import { fromEnv } from "@aws-sdk/credential-provider-env";

/**
 * A stand-in for `@aws-sdk/credential-provider-node` in one bundle variant of bench/bundles.ts: in Lambda the
 * credentials are always in the environment, so the default chain's SSO, STS, INI, process and IMDS providers (and the
 * nested clients they bundle) are dead weight. Measured, not deployed.
 */
export const defaultProvider = (): ReturnType<typeof fromEnv> => fromEnv();
