import {
  closeSync,
  lstatSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  readlinkSync,
} from "node:fs";
import { join } from "node:path";

export type EntryKind = "file" | "dir" | "symlink" | "other";

export interface Stat {
  readonly kind: EntryKind;
  /** Permission bits (mode & 0o7777). */
  readonly mode: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  readonly dev: number;
  readonly uid: number;
  readonly gid: number;
}

/**
 * A read-only view of a filesystem tree. The closure code reads the host only through this seam,
 * so it can run over `/` or over any directory that looks like a root.
 */
export interface FsView {
  /** Absolute path inside the view, or undefined if it does not exist. Never follows the last link. */
  lstat(path: string): Stat | undefined;
  readlink(path: string): string;
  readdir(path: string): string[];
  /** Up to `length` bytes from `offset`; fewer at end of file. */
  read(path: string, offset: number, length: number): Buffer;
  readText(path: string): string | undefined;
  /** Where `path` of this view lives on the real filesystem (what to hardlink from). */
  hostPath(path: string): string;
}

function kindOf(s: import("node:fs").Stats): EntryKind {
  if (s.isSymbolicLink()) return "symlink";
  if (s.isDirectory()) return "dir";
  if (s.isFile()) return "file";
  return "other";
}

/** The real filesystem under `root` (default `/`). */
export function hostFs(root = "/"): FsView {
  const real = (p: string) => (root === "/" ? p : join(root, p));
  return {
    lstat(p) {
      try {
        const s = lstatSync(real(p));
        return {
          kind: kindOf(s),
          mode: s.mode & 0o7777,
          size: s.size,
          mtimeMs: s.mtimeMs,
          ino: s.ino,
          dev: s.dev,
          uid: s.uid,
          gid: s.gid,
        };
      } catch {
        return undefined;
      }
    },
    readlink: (p) => readlinkSync(real(p)),
    readdir: (p) => readdirSync(real(p)),
    read(p, offset, length) {
      const fd = openSync(real(p), "r");
      try {
        const buf = Buffer.alloc(length);
        const n = readSync(fd, buf, 0, length, offset);
        return buf.subarray(0, n);
      } finally {
        closeSync(fd);
      }
    },
    readText(p) {
      try {
        return readFileSync(real(p), "utf8");
      } catch {
        return undefined;
      }
    },
    hostPath: real,
  };
}
