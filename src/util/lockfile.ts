import { randomBytes } from "node:crypto";
import { linkSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";

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
  // The pid is written first and the file linked into place, so a lock file is never seen empty:
  // with open(O_EXCL) and then a write, another process could read it in between, take the
  // empty file for a dead holder's, remove it and take the lock too.
  const mine = `${lock}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(mine, String(process.pid));
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(mine, lock);
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
  } finally {
    rmSync(mine, { force: true });
  }
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
