/**
 * Where the token secret comes from: `CHAT_TOKEN_SECRET` locally, AWS Secrets Manager (`CHAT_TOKEN_SECRET_ARN`) in the
 * cloud. Read once per cold start by the entry modules and cached for the life of the execution environment.
 */
export interface SecretSource {
  /** Reads the secret string named by `arn`. */
  fetch(arn: string): Promise<string>;
}

/** The secret cannot be found or read; its message names the variable to set. */
export class MissingSecretError extends Error {
  override readonly name = "MissingSecretError";
}

/** Resolves the token secret from an environment, fetching it from Secrets Manager when an ARN is given. */
export async function resolveTokenSecret(
  env: Record<string, string | undefined>,
  source: SecretSource | undefined,
): Promise<string> {
  const arn = env.CHAT_TOKEN_SECRET_ARN;
  if (arn) {
    if (!source) throw new MissingSecretError("CHAT_TOKEN_SECRET_ARN is set but no Secrets Manager client was given");
    const secret = await source.fetch(arn);
    if (!secret) throw new MissingSecretError(`secret ${arn} has no string value`);
    return secret;
  }
  const secret = env.CHAT_TOKEN_SECRET;
  if (!secret) throw new MissingSecretError("set CHAT_TOKEN_SECRET (or CHAT_TOKEN_SECRET_ARN in the cloud)");
  return secret;
}
