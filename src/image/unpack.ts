import { createHash, randomBytes } from "node:crypto";
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { DigestMismatchError, InvalidLayerError } from "../errors.js";
import { applyLayer } from "./apply.js";
import { CHUNK, compressionOf, sniffFile } from "./decompress.js";
import { chainIds } from "./manifest.js";
import type { StoredImage } from "./pull.js";
import type { Store } from "./store.js";
import { exec } from "../util/exec.js";

export interface UnpackOptions {
  readonly asRoot: boolean;
  /** Most bytes a layer may expand to. @default 64 GiB */
  readonly maxLayerBytes?: number;
  /** Settles when layer i is in the store (PullOptions.onManifest); awaited before applying it. */
  readonly ready?: (i: number) => Promise<void>;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** The directory holding an image's unpacked rootfs, named by the ChainID of its top layer. */
export function rootfsDir(rootfsRoot: string, img: StoredImage): string {
  const chain = chainIds(img.config.rootfs.diff_ids, sha256);
  const top = chain[chain.length - 1] ?? `sha256:${sha256("empty")}`;
  return join(rootfsRoot, top.slice("sha256:".length));
}

/** Beside the rootfs directories: for each, the ChainIDs of its layers (what it was built on). */
export const CHAINS_DIR = ".chains";

const hex = (d: string) => d.slice("sha256:".length);

/** The ChainIDs (hex) recorded for every unpacked image. */
function recordedChains(rootfsRoot: string): string[][] {
  const dir = join(rootfsRoot, CHAINS_DIR);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    try {
      return [readFileSync(join(dir, n), "utf8").split("\n").filter(Boolean)];
    } catch {
      return [];
    }
  });
}

/** How many bottom layers `a` and `b` share. */
function shared(a: readonly string[], b: readonly string[]): number {
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return k;
}

/**
 * A copy of a rootfs tree whose files are hardlinks: cp -a keeps every directory's owner, mode,
 * times and xattrs, and links the rest. Safe to apply layers to, because applyLayer never writes
 * into an existing file: it removes the entry and creates a new one.
 */
async function cloneTree(from: string, to: string): Promise<void> {
  const r = await exec("cp", ["-a", "--link", "--no-target-directory", from, to]);
  if (r.code !== 0) throw new Error(`cp -a --link ${from}: ${r.stderr.trim()}`);
}

/**
 * Unpack an image's layers, in order, into `<rootfsRoot>/<chainid>/`, checking each layer's
 * diff_id against the image config. Built in a temporary directory and renamed into place, so a
 * rootfs directory is always complete; one that already exists is reused (shared by every
 * container of the image).
 *
 * An image rebuilt or updated on the same base differs from the last one only in its top
 * layers. So, as root, the unpack keeps the rootfs of the layers it shares with an image
 * unpacked before (a directory named by that ChainID, whose files are hardlinks of the full
 * one's), and the next image on that base starts from a hardlinked copy of it, applying only its
 * own layers. The first image that shares a base pays for the snapshot; the ones after it save
 * the unpack of the base.
 */
export async function unpackImage(
  store: Store,
  img: StoredImage,
  rootfsRoot: string,
  o: UnpackOptions,
): Promise<string> {
  const target = rootfsDir(rootfsRoot, img);
  if (existsSync(target)) return target;
  mkdirSync(rootfsRoot, { recursive: true, mode: 0o700 });
  const chain = chainIds(img.config.rootfs.diff_ids, sha256).map(hex);
  const n = img.manifest.layers.length;
  const at = (k: number) => join(rootfsRoot, chain[k - 1] ?? "");
  let from = 0;
  let keep = 0;
  if (o.asRoot && chain.length === n) {
    for (let k = n - 1; k >= 1 && from === 0; k--) if (existsSync(at(k))) from = k;
    for (const other of recordedChains(rootfsRoot))
      if (other[other.length - 1] !== chain[n - 1])
        keep = Math.max(keep, Math.min(shared(chain, other), n - 1));
    if (keep <= from || existsSync(at(keep))) keep = 0;
  }
  // Named as gc knows an unpack in progress (util/stale.ts), so that a killed one is swept.
  const temp = () => join(rootfsRoot, `.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  const tmp = temp();
  const snap = temp();
  try {
    if (from > 0) await cloneTree(at(from), tmp);
    else mkdirSync(tmp, { mode: 0o755 });
    for (let i = from; i < n; i++) {
      const layer = img.manifest.layers[i] as (typeof img.manifest.layers)[number];
      await o.ready?.(i);
      const blob = store.blobPath(layer.digest);
      const compression = compressionOf(layer.mediaType) ?? sniffFile(blob);
      if (compressionOf(layer.mediaType) === undefined && !/tar/.test(layer.mediaType))
        throw new InvalidLayerError(
          `layer ${layer.digest}: unsupported media type ${layer.mediaType}`,
        );
      const r = await applyLayer(
        createReadStream(blob, { highWaterMark: CHUNK }),
        compression,
        tmp,
        {
          asRoot: o.asRoot,
          maxBytes: o.maxLayerBytes ?? 64 * 1024 ** 3,
        },
      );
      const want = img.config.rootfs.diff_ids[i];
      if (r.diffId !== want)
        throw new DigestMismatchError(
          `layer ${layer.digest}: its uncompressed content has diff_id ${r.diffId}, the image config says ${want}`,
          want ?? "",
          r.diffId,
        );
      if (i + 1 === keep) {
        await cloneTree(tmp, snap);
        settle(snap, at(keep));
      }
    }
    settle(tmp, target);
    mkdirSync(join(rootfsRoot, CHAINS_DIR), { recursive: true, mode: 0o700 });
    writeFileSync(join(rootfsRoot, CHAINS_DIR, chain[n - 1] ?? ""), `${chain.join("\n")}\n`);
    return target;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(snap, { recursive: true, force: true });
    throw e;
  }
}

/** Rename a finished tree into place; if another process finished the same one first, keep theirs. */
function settle(tmp: string, target: string): void {
  try {
    renameSync(tmp, target);
  } catch (e) {
    if (!existsSync(target)) throw e;
    rmSync(tmp, { recursive: true, force: true });
  }
}
