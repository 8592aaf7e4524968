import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { CLI } from "./paths.js";

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the real `railyard` binary, as a user would. */
export function railyard(
  args: readonly string[],
  o: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: o.cwd ?? process.cwd(),
      env: o.env ?? { ...process.env, RAILYARD_CONFIG: "" },
      stdio: [o.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      timeout: o.timeoutMs ?? 60_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
    if (o.input !== undefined) child.stdin?.end(o.input);
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * A scratch directory outside /tmp (a systemd booted for tests has its own /tmp) on the same
 * filesystem as /usr, so rootfs hardlinks work. Removed by the returned cleanup function.
 */
export function scratchDir(prefix = "railyard-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(`/var/tmp/${prefix}`);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Start `railyard`, wait until its stdout shows `marker`, then send it `signal`. Resolves with the
 * exit code, stdout, and how long railyard took to exit after the signal.
 */
export function signalWhenReady(
  args: readonly string[],
  marker: string,
  signal: NodeJS.Signals,
): Promise<{ code: number | null; stdout: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let sentAt = 0;
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
      if (sentAt === 0 && stdout.includes(marker)) {
        sentAt = Date.now();
        child.kill(signal);
      }
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, ms: Date.now() - sentAt }));
  });
}
