import { readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";

/** Is the pid written in this lock file a live process? */
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

/**
 * Take a lock file holding our pid. A lock whose holder died (SIGKILL) is taken over. Returns
 * the release function, or the live holder's pid when it is held.
 */
export function tryLock(lock: string): (() => void) | number {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: "wx" });
      return () => {
        try {
          unlinkSync(lock);
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = lockHolder(lock);
      if (holder !== undefined) return holder;
      rmSync(lock, { force: true });
    }
  }
  return lockHolder(lock) ?? 0;
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
    const r = tryLock(lock);
    if (typeof r === "function") {
      try {
        return await f();
      } finally {
        r();
      }
    }
    if (Date.now() > deadline) throw onTimeout(r);
    await new Promise((res) => setTimeout(res, 50));
  }
}
