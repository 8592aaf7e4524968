import { createHash } from "node:crypto";
import {
  chmodSync,
  constants,
  copyFileSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { RootfsPlan } from "./rootfs.js";

/**
 * How the rootfs is made: a hardlink farm of host or image files (read-only roots), copies
 * (writable host-program roots, rootless), or an overlay over the unpacked image (writable image
 * roots: only railyard's own entries are written, in `layer/`; see overlay.ts).
 */
export type LinkMode = "hardlink" | "copy" | "overlay";

export const STAMP_FILE = "railyard.json";

/** What `railyard build` records beside config.json, so `run` can tell whether a rebuild is due. */
export interface BuildStamp {
  readonly fingerprint: string;
  readonly container: string;
  readonly program: string;
  readonly packages: readonly string[];
  readonly entries: number;
  readonly linkMode: LinkMode;
  readonly image?: string;
}

/**
 * A digest of everything that ends up in the bundle: the spec bytes and, for every rootfs entry,
 * its kind, mode and identity (host inode, size and mtime for linked files). Pure.
 */
export function fingerprint(specText: string, plan: RootfsPlan, linkMode: LinkMode): string {
  const h = createHash("sha256");
  h.update(`railyard-bundle-v1\n${linkMode}\n${specText}\n`);
  if (plan.base) h.update(`base ${plan.base.id}\n`);
  for (const [p, e] of plan.entries) {
    if (e.kind === "dir") h.update(`d ${p} ${e.mode}\n`);
    else if (e.kind === "symlink") h.update(`l ${p} ${e.target}\n`);
    else if (e.kind === "data")
      h.update(`g ${p} ${e.mode} ${createHash("sha256").update(e.content).digest("hex")}\n`);
    else
      h.update(
        `f ${p} ${e.mode} ${e.source} ${e.stat.dev}:${e.stat.ino} ${e.stat.size} ${e.stat.mtimeMs}\n`,
      );
  }
  return `sha256:${h.digest("hex")}`;
}

export function readStamp(bundleDir: string): BuildStamp | undefined {
  try {
    return JSON.parse(readFileSync(join(bundleDir, STAMP_FILE), "utf8")) as BuildStamp;
  } catch {
    return undefined;
  }
}

/** Hardlink (or copy) a whole unpacked image into `dest`, keeping modes and owners. */
function cloneTree(src: string, dest: string, linkMode: LinkMode): void {
  const st = lstatSync(src);
  mkdirSync(dest, { recursive: true });
  chmodSync(dest, st.mode & 0o7777);
  lchownSync(dest, st.uid, st.gid);
  const stack: [string, string][] = [[src, dest]];
  while (stack.length > 0) {
    const [from, to] = stack.pop() as [string, string];
    for (const d of readdirSync(from, { withFileTypes: true })) {
      const f = join(from, d.name);
      const t = join(to, d.name);
      if (d.isDirectory()) {
        const ds = lstatSync(f);
        mkdirSync(t);
        chmodSync(t, ds.mode & 0o7777);
        lchownSync(t, ds.uid, ds.gid);
        stack.push([f, t]);
      } else if (d.isSymbolicLink()) {
        const ls = lstatSync(f);
        symlinkSync(readlinkSync(f), t);
        lchownSync(t, ls.uid, ls.gid);
      } else if (linkMode === "copy" && d.isFile()) {
        const fs = lstatSync(f);
        copyFileSync(f, t, constants.COPYFILE_FICLONE);
        lchownSync(t, fs.uid, fs.gid);
        chmodSync(t, fs.mode & 0o7777); // after chown, which clears setuid bits
      } else linkSync(f, t);
    }
  }
}

/**
 * An overlay's top lower layer: only the plan's entries. A directory the image also has is made
 * with the image's owner (and mode, unless the plan gives one), since the merged directory shows
 * the attributes of the topmost layer that has it.
 */
function materialiseLayer(bundle: string, plan: RootfsPlan): void {
  const base = plan.base?.dir ?? "";
  const layer = join(bundle, "layer");
  const like = (dest: string, rel: string, mode?: number) => {
    const st = lstatSync(join(base, rel), { throwIfNoEntry: false });
    mkdirSync(dest);
    lchownSync(dest, st?.uid ?? 0, st?.gid ?? 0);
    chmodSync(dest, mode ?? (st ? st.mode & 0o7777 : 0o755));
  };
  like(layer, "/");
  like(join(bundle, "upper"), "/"); // the merged root shows the upper root's attributes
  mkdirSync(join(bundle, "work"), { mode: 0o700 });
  for (const [p, e] of plan.entries) {
    if (p === "/") continue;
    const dest = join(layer, p);
    // Parents the plan does not name are the image's directories (ensureDir resolved symlinks).
    const segs = p.split("/").filter(Boolean);
    for (let i = 1; i < segs.length; i++) {
      const rel = `/${segs.slice(0, i).join("/")}`;
      if (!lstatSync(join(layer, rel), { throwIfNoEntry: false })) like(join(layer, rel), rel);
    }
    if (e.kind === "dir") like(dest, p, e.mode);
    else if (e.kind === "symlink") symlinkSync(e.target, dest);
    else if (e.kind === "data") writeFileSync(dest, e.content, { mode: e.mode });
    else {
      copyFileSync(e.source, dest, constants.COPYFILE_FICLONE);
      keepOwner(dest, e.stat);
      chmodSync(dest, e.mode);
    }
  }
}

function materialise(rootfs: string, plan: RootfsPlan, linkMode: LinkMode): void {
  if (plan.base) cloneTree(plan.base.dir, rootfs, linkMode);
  for (const [p, e] of plan.entries) {
    const dest = p === "/" ? rootfs : join(rootfs, p);
    if (plan.base && p !== "/") {
      // Over an image: generated entries replace whatever the image had there.
      let existing;
      try {
        existing = lstatSync(dest);
      } catch {
        existing = undefined;
      }
      if (existing && !(existing.isDirectory() && e.kind === "dir"))
        rmSync(dest, { recursive: true, force: true });
      else if (existing) {
        // A directory of the image's that the plan names (a tmpfs mount point) takes its mode.
        if (e.kind === "dir" && (existing.mode & 0o7777) !== e.mode) chmodSync(dest, e.mode);
        continue;
      }
    }
    switch (e.kind) {
      case "dir":
        mkdirSync(dest, { recursive: true });
        chmodSync(dest, e.mode & 0o7777);
        break;
      case "symlink":
        symlinkSync(e.target, dest);
        break;
      case "data":
        writeFileSync(dest, e.content, { mode: e.mode });
        break;
      case "file":
        if (linkMode === "hardlink") {
          try {
            linkSync(e.source, dest);
            break;
          } catch (err) {
            // Another filesystem, or a link count limit: fall back to a copy of that one file.
            const code = (err as NodeJS.ErrnoException).code;
            if (code !== "EXDEV" && code !== "EMLINK" && code !== "EPERM") throw err;
          }
        }
        copyFileSync(e.source, dest, constants.COPYFILE_FICLONE);
        keepOwner(dest, e.stat);
        chmodSync(dest, e.mode); // after chown, which clears setuid bits
        break;
    }
  }
}

/**
 * A copy keeps its host file's owner, as a hardlink does: a config file that dpkg-statoverride
 * gave a service's user (redis's redis.conf, 0640 redis:redis) stays readable to that user. As
 * a user (rootless) railyard cannot give files other owners; they stay the user's.
 */
function keepOwner(dest: string, stat: { uid: number; gid: number }): void {
  if (process.getuid?.() === 0) lchownSync(dest, stat.uid, stat.gid);
}

/**
 * Write a bundle directory: rootfs/ (or an overlay's layer/, upper/ and work/), config.json
 * (0600: it may hold secrets from environmentFiles) and the build stamp. Built beside the target and renamed into place, so a bundle directory is
 * always either the old bundle or the complete new one.
 */
export function writeBundle(
  bundleDir: string,
  specText: string,
  plan: RootfsPlan,
  stamp: BuildStamp,
): void {
  const tmp = `${bundleDir}.tmp-${process.pid}`;
  const old = `${bundleDir}.old-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    if (stamp.linkMode === "overlay") materialiseLayer(tmp, plan);
    else materialise(join(tmp, "rootfs"), plan, stamp.linkMode);
    writeFileSync(join(tmp, "config.json"), specText, { mode: 0o600 });
    writeFileSync(join(tmp, STAMP_FILE), `${JSON.stringify(stamp, null, 2)}\n`, { mode: 0o644 });
  } catch (e) {
    // A full disk (or any failure) leaves no half-written bundle behind.
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  let hadOld = true;
  try {
    renameSync(bundleDir, old);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    hadOld = false;
  }
  renameSync(tmp, bundleDir);
  if (hadOld) rmSync(old, { recursive: true, force: true });
}
