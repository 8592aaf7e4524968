import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ConfigError } from "../errors.js";
import { writeFileAtomic } from "../util/atomic.js";

/** railyard.lock: each image reference of the config pinned to the digest it resolved to. */
export interface LockFile {
  readonly version: 1;
  readonly images: Readonly<Record<string, LockEntry>>;
}

export interface LockEntry {
  readonly digest: string;
  /** For a `build:` image, the hash of what it was built from (image/build.ts). */
  readonly context?: string;
}

export const lockPathFor = (configFile: string): string =>
  join(dirname(configFile), "railyard.lock");

export function readLock(path: string): LockFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return { version: 1, images: {} };
  }
  try {
    const l = JSON.parse(text) as LockFile;
    if (l.version !== 1 || typeof l.images !== "object" || l.images === null)
      throw new Error("expected { version: 1, images: {...} }");
    for (const [ref, v] of Object.entries(l.images))
      if (!/^sha256:[a-f0-9]{64}$/.test(v?.digest ?? ""))
        throw new Error(`images.${ref}.digest is not a sha256 digest`);
      else if (v.context !== undefined && !/^sha256:[a-f0-9]{64}$/.test(v.context))
        throw new Error(`images.${ref}.context is not a sha256 digest`);
    return l;
  } catch (e) {
    throw new ConfigError(path, [
      {
        path: "",
        message: `invalid lock file: ${(e as Error).message}. fix it, or delete it and run railyard lock`,
      },
    ]);
  }
}

/** Deterministic text: sorted references, one per line group. */
export function serializeLock(l: LockFile): string {
  const images = Object.fromEntries(Object.entries(l.images).sort(([a], [b]) => (a < b ? -1 : 1)));
  return `${JSON.stringify({ version: 1, images }, null, 2)}\n`;
}

export function writeLock(path: string, l: LockFile): void {
  writeFileAtomic(path, serializeLock(l));
}
