import { type ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";

/** What became of one post: delivered, the connection is gone (410), or it failed for another reason. */
export type PostOutcome = { status: "delivered" } | { status: "gone" } | { status: "failed"; error: unknown };

/** Sends bytes to one connection. */
export interface Poster {
  post(connectionId: string, data: Uint8Array): Promise<PostOutcome>;
}

/**
 * A 410 from the management API: the connection no longer exists. The SDK names it `GoneException` when API Gateway
 * sends the error type; the status code is checked too so a bare 410 is never mistaken for a failure to retry.
 */
export function isGone(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { name, $metadata } = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
  return name === "GoneException" || $metadata?.httpStatusCode === 410;
}

const DELIVERED: PostOutcome = { status: "delivered" };
const GONE: PostOutcome = { status: "gone" };

/** A {@link Poster} over the API Gateway Management API (`PostToConnection`). */
export function managementApiPoster(client: ApiGatewayManagementApiClient): Poster {
  return {
    async post(connectionId, data) {
      try {
        await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
        return DELIVERED;
      } catch (error) {
        return isGone(error) ? GONE : { status: "failed", error };
      }
    },
  };
}
