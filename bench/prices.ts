/**
 * Public on-demand prices the cost model uses: us-east-1, USD, first pricing tier, no free tier. Taken on 2026-11-25
 * (the date of the benchmark machine). The official pages render their rates from price tokens, so the numbers were
 * checked against the pages' worked examples and secondary sources quoting them; re-check before quoting them.
 * - API Gateway: https://aws.amazon.com/api-gateway/pricing/ — WebSocket messages counted in 32 KB increments.
 * - Lambda: https://aws.amazon.com/lambda/pricing/ — arm64, first 7.5 billion GB-s per month.
 * - DynamoDB: https://aws.amazon.com/dynamodb/pricing/on-demand/ — after the 50% on-demand cut of 1 November 2024.
 */
export const prices = {
  takenOn: "2026-11-25",
  region: "us-east-1",
  /** API Gateway WebSocket API, per message (first billion per month). */
  apiGatewayMessageUsd: 1.0 / 1e6,
  /** API Gateway WebSocket API, per connection minute. */
  apiGatewayConnectionMinuteUsd: 0.25 / 1e6,
  /** Lambda arm64, per GB-second. */
  lambdaGbSecondUsd: 0.0000133334,
  /** Lambda, per request. */
  lambdaRequestUsd: 0.2 / 1e6,
  /** DynamoDB on-demand, per read request unit (one eventually consistent read of up to 8 KB counts half a unit per 4 KB). */
  dynamoReadUnitUsd: 0.125 / 1e6,
  /** DynamoDB on-demand, per write request unit (up to 1 KB). */
  dynamoWriteUnitUsd: 0.625 / 1e6,
} as const;
