import { type ChildProcess, fork } from "node:child_process";

/** A benchmark helper process, running a TypeScript file under tsx, and what it said when it was ready. */
export interface Helper<Ready> {
  readonly child: ChildProcess;
  readonly ready: Ready;
  /** Sends a message and waits for the next reply of the given type. */
  ask<Reply>(message: object, replyType: string): Promise<Reply>;
  /** Ends the helper (SIGKILL: a server's own shutdown work is not part of any measurement). */
  stop(): Promise<void>;
}

/**
 * Forks `file` in its own Node process (so its CPU does not compete inside the measuring process) and waits for its
 * `{ type: "ready" }` message. Helpers exit by themselves when this process goes away (see {@link exitWithParent}).
 */
export function startHelper<Ready>(
  file: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<Helper<Ready>> {
  const child = fork(file, args, {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const next = <T>(type: string) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (message: { type?: string }) => {
        if (message.type !== type) return;
        child.off("message", onMessage);
        child.off("exit", onExit);
        resolve(message as T);
      };
      const onExit = (code: number | null) => reject(new Error(`${file} exited (${code}) before "${type}"`));
      child.on("message", onMessage);
      child.once("exit", onExit);
    });
  return next<Ready>("ready").then((ready) => ({
    child,
    ready,
    ask<Reply>(message: object, replyType: string) {
      const reply = next<Reply>(replyType);
      child.send(message);
      return reply;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  }));
}

/** In a helper: exit when the parent goes away, so no benchmark process outlives a run. */
export function exitWithParent(): void {
  process.on("disconnect", () => process.exit(0));
}
