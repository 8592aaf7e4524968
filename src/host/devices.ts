/** Device nodes as the host has them. */
import { statSync } from "node:fs";

/** A device node (or fifo) on the host, as stat(2) sees it (symlinks followed); undefined if absent. */
export function hostNode(
  path: string,
): { type: "c" | "b" | "p"; major: number; minor: number; fileMode: number } | "other" | undefined {
  let st;
  try {
    st = statSync(path, { bigint: true });
  } catch {
    return undefined;
  }
  const type = st.isCharacterDevice() ? "c" : st.isBlockDevice() ? "b" : st.isFIFO() ? "p" : "";
  if (!type) return "other";
  // glibc's major()/minor() of a 64-bit dev_t.
  const rdev = st.rdev;
  return {
    type,
    major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
    fileMode: Number(st.mode & 0o777n),
  };
}
