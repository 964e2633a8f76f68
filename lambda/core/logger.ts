/**
 * The little the core needs of a logger. Powertools' `Logger` satisfies it in Lambda; tests and the local stack may
 * hand in anything with these methods.
 */
export interface CoreLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** A logger that drops everything, for callers that do not care. */
export const silentLogger: CoreLogger = { info() {}, warn() {}, error() {} };
