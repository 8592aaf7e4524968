/**
 * A tiny tar writer for test fixtures, able to write entries no well-behaved tool would
 * (absolute names, `..`, links out of the root, bad whiteouts): the malicious layers the
 * layer applier must refuse. Real layers in the tests come from umoci and skopeo.
 */
import { gzipSync } from "node:zlib";

export interface FixtureEntry {
  name: string;
  type?: "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo";
  body?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Override the size field (to write lying headers). */
  size?: number;
}

const TYPEFLAG = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
};

function octal(n: number, len: number): string {
  return n.toString(8).padStart(len - 1, "0") + "\0";
}

export function tarHeader(e: FixtureEntry, typeflag?: string): Buffer {
  const h = Buffer.alloc(512);
  const body = typeof e.body === "string" ? Buffer.from(e.body) : (e.body ?? Buffer.alloc(0));
  h.write(e.name, 0, 100, "utf8");
  h.write(octal(e.mode ?? (e.type === "dir" ? 0o755 : 0o644), 8), 100, "latin1");
  h.write(octal(e.uid ?? 0, 8), 108, "latin1");
  h.write(octal(e.gid ?? 0, 8), 116, "latin1");
  h.write(octal(e.size ?? body.length, 12), 124, "latin1");
  h.write(octal(1700000000, 12), 136, "latin1");
  h.write("        ", 148, "latin1");
  h.write(typeflag ?? TYPEFLAG[e.type ?? "file"], 156, "latin1");
  h.write(e.linkname ?? "", 157, 100, "utf8");
  h.write("ustar\0", 257, "latin1");
  h.write("00", 263, "latin1");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, "latin1");
  return h;
}

/** An uncompressed tar of the entries, with the two zero blocks at the end. */
export function makeTar(entries: FixtureEntry[], { end = true } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = typeof e.body === "string" ? Buffer.from(e.body) : (e.body ?? Buffer.alloc(0));
    parts.push(tarHeader(e), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const makeTarGz = (entries: FixtureEntry[]): Buffer => gzipSync(makeTar(entries));
