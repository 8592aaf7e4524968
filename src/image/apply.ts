import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  chmodSync,
  type Stats,
} from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { InvalidLayerError, UnsafeLayerError } from "../errors.js";
import { decompressor, type Compression } from "./decompress.js";
import { writeAll } from "../util/atomic.js";
import { TarFormatError, TarReader, tarSink, type TarHandlers, type TarHeader } from "./tar.js";

export interface ApplyOptions {
  /** Running as root: ownership is applied, setuid bits and device nodes are kept. */
  readonly asRoot: boolean;
  /** Most uncompressed bytes one layer may expand to (decompression bombs). */
  readonly maxBytes: number;
}

export interface ApplyResult {
  /** sha256 of the uncompressed tar: the layer's diff_id. */
  readonly diffId: string;
  readonly bytes: number;
  readonly entries: number;
}

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";
const MAX_LINKS = 40;

const lstatOrUndefined = (p: string): Stats | undefined => {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
};

/**
 * Applies one layer's tar entries to a directory, per the OCI image spec's changeset rules, without
 * ever creating, changing or reading anything outside it:
 *  - entry paths are relative, with no `..`; absolute paths are refused;
 *  - parents are resolved inside the root; a parent that is a symlink leaving the root (absolute,
 *    or climbing above it) is refused; the entry's own name is never followed;
 *  - hardlink targets obey the same rules and must be existing non-directories;
 *  - whiteouts and opaque whiteouts remove only what lower layers made;
 *  - files are created with O_EXCL|O_NOFOLLOW after the old entry is removed.
 */
class LayerWriter implements TarHandlers {
  /** Paths (relative, real) this layer created: whiteouts must not remove them. */
  private readonly created = new Set<string>();
  /**
   * Relative paths known to be real directories (not symlinks), so that each entry does not lstat
   * every one of its parents again. Cleared whenever anything is removed.
   */
  private readonly knownDirs = new Set<string>();
  /** Directories this layer made with mkdir: nothing is in them but what this layer created. */
  private readonly madeDirs = new Set<string>();
  private fd: number | undefined;
  private current: TarHeader | undefined;
  private fileBytes = 0;
  entries = 0;

  constructor(
    private readonly root: string,
    private readonly o: ApplyOptions,
  ) {}

  private refuse(h: TarHeader, why: string): never {
    throw new UnsafeLayerError(`unsafe layer entry ${JSON.stringify(h.path)}: ${why}`, h.path);
  }

  /**
   * Clean an archive path to segments; refuses absolute paths and `..`. The one exception is an
   * entry for the root itself written as "/" (umoci insert and some build tools do; docker and
   * podman accept it), which means what "./" means.
   */
  private segments(h: TarHeader, p: string, what: string): string[] {
    if (p.includes("\0")) this.refuse(h, `${what} contains a NUL byte`);
    if (what === "path" && /^\/+$/.test(p)) return [];
    if (p.startsWith("/")) this.refuse(h, `${what} ${JSON.stringify(p)} is absolute`);
    const segs = p.split("/").filter((s) => s !== "" && s !== ".");
    if (segs.includes("..")) this.refuse(h, `${what} ${JSON.stringify(p)} contains ".."`);
    return segs;
  }

  private abs(rel: readonly string[]): string {
    return rel.length === 0 ? this.root : `${this.root}/${rel.join("/")}`;
  }

  /**
   * Resolve a directory path inside the root, creating missing directories. Symlinks met on the
   * way are followed only while they stay inside the root.
   */
  private resolveDir(h: TarHeader, segs: readonly string[], create: boolean, depth = 0): string[] {
    if (depth > MAX_LINKS) this.refuse(h, "too many levels of symbolic links");
    const real: string[] = [];
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i] as string;
      const next = [...real, seg];
      const key = next.join("/");
      if (this.knownDirs.has(key)) {
        real.push(seg);
        continue;
      }
      const st = lstatOrUndefined(this.abs(next));
      if (!st) {
        if (!create) this.refuse(h, `${key} does not exist`);
        mkdirSync(this.abs(next), { mode: 0o755 });
        this.created.add(key);
        this.madeDirs.add(key);
        this.knownDirs.add(key);
        real.push(seg);
      } else if (st.isDirectory()) {
        this.knownDirs.add(key);
        real.push(seg);
      } else if (st.isSymbolicLink()) {
        const target = readlinkSync(this.abs(next));
        if (target.startsWith("/"))
          this.refuse(
            h,
            `its parent ${next.join("/")} is a symlink to the absolute path ${target}; writing through it would leave the layer`,
          );
        const joined = [...real, ...target.split("/")];
        const clean: string[] = [];
        for (const s of joined) {
          if (s === "" || s === ".") continue;
          if (s === "..") {
            if (clean.length === 0)
              this.refuse(
                h,
                `its parent ${next.join("/")} is a symlink to ${target}, which climbs out of the layer root`,
              );
            clean.pop();
          } else clean.push(s);
        }
        const resolved = this.resolveDir(h, [...clean, ...segs.slice(i + 1)], create, depth + 1);
        return resolved;
      } else this.refuse(h, `${next.join("/")} is not a directory`);
    }
    return real;
  }

  entry(h: TarHeader): void {
    this.entries++;
    this.current = h;
    const segs = this.segments(h, h.path, "path");
    if (segs.length === 0) {
      if (h.type === "dir") return; // "./" itself: the root keeps its own mode
      this.refuse(h, `a ${h.type} cannot replace the layer root`);
    }
    const name = segs[segs.length - 1] as string;
    if (name.startsWith(WHITEOUT)) return this.whiteout(h, segs);
    const parent = this.resolveDir(h, segs.slice(0, -1), true);
    const parentAbs = this.abs(parent);

    const relKey = [...parent, name].join("/");
    const dest = `${parentAbs}/${name}`;
    // In a directory this layer made, only this layer's own entries can be in the way.
    const existing =
      this.madeDirs.has(parent.join("/")) && !this.created.has(relKey)
        ? undefined
        : lstatOrUndefined(dest);
    if (existing && !(existing.isDirectory() && h.type === "dir")) this.remove(dest);
    this.created.add(relKey);

    const mode = this.o.asRoot ? h.mode : h.mode & 0o1777;
    switch (h.type) {
      case "dir":
        if (!existing?.isDirectory()) {
          mkdirSync(dest, { mode: 0o755 });
          this.madeDirs.add(relKey);
        }
        this.knownDirs.add(relKey);
        chmodSync(dest, mode);
        this.own(dest, h);
        break;
      case "file":
        this.fd = openSync(
          dest,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          0o600,
        );
        this.fileBytes = 0;
        break;
      case "symlink":
        symlinkSync(h.linkname, dest);
        if (this.o.asRoot) lchownSync(dest, h.uid, h.gid);
        lutimesSync(dest, h.mtime, h.mtime);
        break;
      case "hardlink": {
        const tsegs = this.segments(h, h.linkname, "hardlink target");
        if (tsegs.length === 0) this.refuse(h, "a hardlink cannot point at the layer root");
        const tparent = this.resolveDir(h, tsegs.slice(0, -1), false);
        const target = `${this.abs(tparent)}/${tsegs[tsegs.length - 1]}`;
        const tst = lstatOrUndefined(target);
        if (!tst) this.refuse(h, `hardlink target ${JSON.stringify(h.linkname)} does not exist`);
        if (tst.isDirectory())
          this.refuse(h, `hardlink target ${JSON.stringify(h.linkname)} is a directory`);
        linkSync(target, dest);
        break;
      }
      case "char":
      case "block":
      case "fifo": {
        if (!this.o.asRoot) this.refuse(h, `${h.type} nodes are refused when not running as root`);
        const args =
          h.type === "fifo"
            ? ["-m", (mode & 0o777).toString(8), dest]
            : [
                "-m",
                (mode & 0o777).toString(8),
                dest,
                h.type === "char" ? "c" : "b",
                String(h.devmajor),
                String(h.devminor),
              ];
        const r = spawnSync(h.type === "fifo" ? "mkfifo" : "mknod", args, { encoding: "utf8" });
        if (r.status !== 0) this.refuse(h, `cannot create ${h.type}: ${r.stderr.trim()}`);
        this.own(dest, h);
        break;
      }
    }
  }

  /**
   * `.wh.NAME` removes NAME and `.wh..wh..opq` empties its directory, of what lower layers made
   * only. A whiteout in a directory that does not exist has nothing to hide.
   */
  private whiteout(h: TarHeader, segs: readonly string[]): void {
    const name = segs[segs.length - 1] as string;
    const victim = name.slice(WHITEOUT.length);
    if (
      name !== OPAQUE &&
      (victim === "" || victim === "." || victim === ".." || victim.startsWith(WHITEOUT))
    )
      this.refuse(h, `${JSON.stringify(name)} is not a valid whiteout`);
    let parent: string[];
    try {
      parent = this.resolveDir(h, segs.slice(0, -1), false);
    } catch (e) {
      if (e instanceof UnsafeLayerError && /does not exist$/.test(e.message)) return;
      throw e;
    }
    if (name === OPAQUE) return this.opaque(parent);
    if (!this.created.has([...parent, victim].join("/")))
      this.remove(`${this.abs(parent)}/${victim}`);
  }

  /** Remove a path and everything under it; forget which directories are known. */
  private remove(abs: string): void {
    rmSync(abs, { recursive: true, force: true });
    this.knownDirs.clear();
  }

  private own(dest: string, h: TarHeader): void {
    if (this.o.asRoot) lchownSync(dest, h.uid, h.gid);
  }

  /** `.wh..wh..opq`: the directory hides everything lower layers put in it. */
  private opaque(dir: readonly string[]): void {
    const abs = this.abs(dir);
    for (const child of readdirSync(abs)) {
      const rel = [...dir, child].join("/");
      if (!this.created.has(rel)) this.remove(`${abs}/${child}`);
    }
  }

  data(chunk: Buffer): void {
    if (this.fd === undefined) return;
    this.fileBytes += chunk.length;
    writeAll(this.fd, chunk);
  }

  end(): void {
    const h = this.current;
    if (this.fd !== undefined && h) {
      const mode = this.o.asRoot ? h.mode : h.mode & 0o1777;
      if (this.o.asRoot) fchownSync(this.fd, h.uid, h.gid);
      fchmodSync(this.fd, mode); // after chown, which clears setuid bits
      futimesSync(this.fd, h.mtime, h.mtime);
      closeSync(this.fd);
      this.fd = undefined;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * Decompress a layer and apply it to `root` (an existing directory). Returns its diff_id; the
 * caller compares it with the image config's. On any error the directory is left partly written
 * and must be discarded by the caller (layers are always applied into a fresh temporary tree).
 */
export async function applyLayer(
  input: Readable,
  compression: Compression,
  root: string,
  o: ApplyOptions,
): Promise<ApplyResult> {
  const writer = new LayerWriter(root, o);
  const hash = createHash("sha256");
  let bytes = 0;
  const reader = new TarReader(writer);
  const sink = tarSink(reader, (chunk) => {
    bytes += chunk.length;
    if (bytes > o.maxBytes)
      throw new UnsafeLayerError(
        `layer expands to more than ${o.maxBytes} bytes uncompressed: refused as a decompression bomb`,
        "",
      );
    hash.update(chunk);
  });
  try {
    await pipeline(input, decompressor(compression), sink);
  } catch (e) {
    if (e instanceof UnsafeLayerError) throw e;
    if (e instanceof TarFormatError) throw new InvalidLayerError(`invalid layer: ${e.message}`);
    const code = (e as NodeJS.ErrnoException).code;
    if (
      code?.startsWith("Z_") ||
      /zstd|incorrect header|unexpected end/i.test((e as Error).message)
    )
      throw new InvalidLayerError(
        `invalid layer: cannot decompress (${compression}): ${(e as Error).message}`,
      );
    throw e;
  } finally {
    writer.close();
  }
  return { diffId: `sha256:${hash.digest("hex")}`, bytes, entries: writer.entries };
}
