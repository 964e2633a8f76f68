/** A variable the function cannot run without is missing or malformed; thrown at cold start, naming it. */
export class ConfigurationError extends Error {
  override readonly name = "ConfigurationError";
}

/** Reads a required environment variable. */
export function requireEnv(name: string, env: Record<string, string | undefined> = process.env): string {
  const value = env[name];
  if (!value) throw new ConfigurationError(`environment variable ${name} is required`);
  return value;
}

/** Reads an optional positive integer environment variable. */
export function positiveIntEnv(
  name: string,
  env: Record<string, string | undefined> = process.env,
): number | undefined {
  const value = env[name];
  if (value === undefined || value === "") return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) {
    throw new ConfigurationError(`environment variable ${name} must be a positive integer, got "${value}"`);
  }
  return parsed;
}
