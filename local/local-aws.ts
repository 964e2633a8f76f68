/** Region and credentials the local stack's SDK clients sign with; nothing checks them, but the SDK needs some. */
export const LOCAL_REGION = "local";
export const LOCAL_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" } as const;
