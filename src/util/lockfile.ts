import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { StateWriteError } from "../errors.js";
import { stateWriteProblem } from "./mounts.js";

/**
 * Locks are flock(2) locks on a file that is never unlinked, held through util-linux's flock(1)
 * (node has no flock). The helper takes the lock, says so, and then waits on a pipe from us: it
 * holds the lock until we close that pipe, or until we die, since the kernel closes the pipe of
 * a killed process too. So a crashed holder's lock is free at once, with no stale pid to judge
 * and no takeover race, and a release can never drop a lock that someone else holds now.
 *
 * The holder writes its pid into the file, for messages only.
 */

/** The pid the holder wrote into a lock file, if that process is alive (for messages). */
export function lockHolder(lock: string): number | undefined {
  let holder = 0;
  try {
    holder = Number(readFileSync(lock, "utf8").trim() || "0");
  } catch {
    return undefined;
  }
  if (!(holder > 0)) return undefined;
  try {
    process.kill(holder, 0);
    return holder;
  } catch {
    return undefined;
  }
}

/** flock(1)'s exit code when the lock is held by someone else (--conflict-exit-code). */
const HELD = 75;

/**
 * Take `lock` if it is free. Resolves with the release function, or, when another process holds
 * it, with that holder's pid (0 when it is not known yet).
 */
export async function tryLock(lock: string): Promise<(() => Promise<void>) | number> {
  const child = spawn(
    "flock",
    ["--nonblock", "--conflict-exit-code", String(HELD), lock, "sh", "-c", "echo locked; exec cat"],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const closed = new Promise<number>((resolve) =>
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
  const outcome = await new Promise<"locked" | number>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.includes("locked\n")) resolve("locked");
    });
    child.on("error", (e) => reject(new Error(`cannot run flock for ${lock}: ${e.message}`)));
    void closed.then(resolve);
  });
  if (outcome === HELD) return lockHolder(lock) ?? 0;
  if (outcome !== "locked") {
    // flock could not open the file: a read-only or full filesystem says so by name.
    const code = /Read-only file system/.test(stderr)
      ? "EROFS"
      : /No space left/.test(stderr)
        ? "ENOSPC"
        : undefined;
    const problem = stateWriteProblem(lock, code);
    if (problem && code) throw new StateWriteError(problem, lock, code);
    throw new Error(`flock ${lock} failed (exit ${outcome}): ${stderr.trim()}`);
  }
  const release = async () => {
    child.stdin.end();
    await closed;
  };
  try {
    writeFileSync(lock, `${process.pid}\n`);
  } catch (e) {
    // The helper holds the lock and waits on our pipe: let it go, or nothing ever exits.
    await release();
    const code = (e as NodeJS.ErrnoException).code;
    const problem = stateWriteProblem(lock, code);
    throw problem && code ? new StateWriteError(problem, lock, code) : e;
  }
  return release;
}

/** Run `f` holding the lock, waiting for a live holder up to `timeoutMs`. */
export async function withLockFile<T>(
  lock: string,
  f: () => Promise<T>,
  timeoutMs: number,
  onTimeout: (holder: number) => Error,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await tryLock(lock);
    if (typeof r === "function") {
      try {
        return await f();
      } finally {
        await r();
      }
    }
    if (Date.now() > deadline) throw onTimeout(r);
    await new Promise((res) => setTimeout(res, 50));
  }
}
