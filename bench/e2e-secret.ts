/**
 * The token secret of the benchmarks' local stack (never used anywhere else), in a module of its own so a benchmark
 * can sign tokens for that stack without importing the server script, which starts a server when loaded.
 */
export const E2E_SECRET = "a-benchmark-secret-that-is-long-enough-for-hs256";
