import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DigestMismatchError, InvalidLayerError } from "../errors.js";
import { applyLayer } from "./apply.js";
import { CHUNK, compressionOf, sniffFile } from "./decompress.js";
import { chainIds } from "./manifest.js";
import type { StoredImage } from "./pull.js";
import type { Store } from "./store.js";

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

/**
 * Unpack an image's layers, in order, into `<rootfsRoot>/<chainid>/`, checking each layer's
 * diff_id against the image config. Built in a temporary directory and renamed into place, so a
 * rootfs directory is always complete; one that already exists is reused (shared by every
 * container of the image).
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
  const tmp = join(rootfsRoot, `.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  mkdirSync(tmp, { mode: 0o755 });
  try {
    for (const [i, layer] of img.manifest.layers.entries()) {
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
    }
    try {
      renameSync(tmp, target);
    } catch (e) {
      // Another process unpacked the same image first: keep theirs.
      if (!existsSync(target)) throw e;
      rmSync(tmp, { recursive: true, force: true });
    }
    return target;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
