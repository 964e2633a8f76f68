// Registers the aws-sdk-client-mock matchers (toHaveReceivedCommandWith, …) once for every test file.
import "aws-sdk-client-mock-vitest/extend";
