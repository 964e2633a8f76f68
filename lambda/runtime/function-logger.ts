import { Logger } from "@aws-lambda-powertools/logger";

/** The functions' logger: JSON lines with the service name; callers add connectionId, channel, requestId. */
export const newLogger = (): Logger => new Logger({ serviceName: "chat" });
