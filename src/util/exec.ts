import { spawn, type StdioOptions } from "node:child_process";
import { constants } from "node:os";
import { StringDecoder } from "node:string_decoder";

/** The outcome of a finished subprocess. Never throws for a non-zero exit: callers decide. */
export interface ExecResult {
  readonly command: string;
  readonly args: readonly string[];
  readonly code: number;
  /** Set when the process died from a signal; `code` is then 128 + its number. */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  readonly signal?: AbortSignal;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Text written to the child's stdin; otherwise stdin is closed (non-interactive). */
  readonly input?: string;
  /** Each complete line of output as it comes (a builder's progress); still captured. */
  readonly onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /**
   * For a program the user wrote (a hook): it runs as a process group of its own, `signal`
   * kills that whole group, and once it has exited, output that something it left running
   * still holds open is read for one more second, not waited on forever.
   */
  readonly group?: boolean;
}

/** How long a group's output is still read after its leader exited. */
const GROUP_GRACE_MS = 1000;

/** A `spawn` seam: every subprocess railyard starts for a result goes through one of these. */
export type Exec = (
  command: string,
  args: readonly string[],
  opts?: ExecOptions,
) => Promise<ExecResult>;

/** Exit status as a shell reports it: the code, or 128 + signal number. */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal] ?? 1) : 1);
}

/** Run a command to completion, capturing stdout and stderr. ENOENT becomes code 127. */
export const exec: Exec = (command, args, opts = {}) =>
  new Promise((resolve, reject) => {
    const stdio: StdioOptions = [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"];
    const group = opts.group === true;
    const child = spawn(command, args, {
      stdio,
      env: opts.env ?? process.env,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      ...(opts.signal && !group ? { signal: opts.signal } : {}),
      ...(group ? { detached: true } : {}),
    });
    if (group) {
      // Our ends of its pipes closed: the child's 'close' follows its exit, whoever else holds
      // the other ends.
      const stopReading = () => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      };
      const killGroup = () => {
        try {
          if (child.pid) process.kill(-child.pid, "SIGKILL");
        } catch {
          // gone already
        }
        stopReading();
      };
      if (opts.signal?.aborted) killGroup();
      else opts.signal?.addEventListener("abort", killGroup, { once: true });
      child.on("exit", () => {
        opts.signal?.removeEventListener("abort", killGroup);
        setTimeout(stopReading, GROUP_GRACE_MS).unref();
      });
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const pending: (() => void)[] = [];
    const lines = (stream: "stdout" | "stderr") => {
      const decoder = new StringDecoder("utf8");
      let rest = "";
      pending.push(() => {
        const last = rest + decoder.end();
        if (last) opts.onLine?.(last, stream);
      });
      return (b: Buffer) => {
        const parts = (rest + decoder.write(b)).split("\n");
        rest = parts.pop() ?? "";
        for (const l of parts) opts.onLine?.(l, stream);
      };
    };
    const onOut = opts.onLine ? lines("stdout") : undefined;
    const onErr = opts.onLine ? lines("stderr") : undefined;
    child.stdout?.on("data", (b: Buffer) => {
      out.push(b);
      onOut?.(b);
    });
    child.stderr?.on("data", (b: Buffer) => {
      err.push(b);
      onErr?.(b);
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    child.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") {
        resolve({
          command,
          args,
          code: 127,
          signal: null,
          stdout: "",
          stderr: `${command}: not found`,
        });
      } else reject(e);
    });
    child.on("close", (code, signal) => {
      for (const flush of pending) flush();
      resolve({
        command,
        args,
        code: exitStatus(code, signal),
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
  });
