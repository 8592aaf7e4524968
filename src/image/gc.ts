import { tryLock } from "../util/lockfile.js";
import { isStaleTemp } from "../util/stale.js";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { chainIds, parseImageConfig, parseManifestDocument } from "./manifest.js";
import { CHAINS_DIR } from "./unpack.js";
import type { Store } from "./store.js";

export interface GcResult {
  readonly blobs: readonly string[];
  readonly rootfs: readonly string[];
  readonly partials: readonly string[];
  readonly bytes: number;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** Every blob an image needs, for every platform of an index, and the ChainIDs of its rootfs. */
function reach(store: Store, digest: string, blobs: Set<string>, chains: Set<string>): void {
  if (blobs.has(digest) || !store.has({ digest })) return;
  blobs.add(digest);
  let doc;
  try {
    doc = parseManifestDocument(store.readBlob(digest));
  } catch {
    return;
  }
  if (doc.kind === "index") {
    for (const m of doc.manifests) reach(store, m.digest, blobs, chains);
    return;
  }
  blobs.add(doc.config.digest);
  for (const l of doc.layers) blobs.add(l.digest);
  try {
    const ids = chainIds(
      parseImageConfig(store.readBlob(doc.config.digest)).rootfs.diff_ids,
      sha256,
    );
    // Every ChainID: the rootfs of an image's lower layers is kept too where it was (unpack.ts).
    for (const id of ids) chains.add(id.slice("sha256:".length));
  } catch {
    // no config: nothing unpacked from it
  }
}

/** The blobs and ChainIDs that the layout's tagged images and `roots` reach. */
export function reachable(
  store: Store,
  roots: readonly string[] = [],
): { blobs: Set<string>; chains: Set<string> } {
  const blobs = new Set<string>();
  const chains = new Set<string>();
  for (const d of [...store.readIndex().manifests.map((m) => m.digest), ...roots])
    reach(store, d, blobs, chains);
  return { blobs, chains };
}

/**
 * Delete what no root references: blobs and unpacked rootfs directories of images that are
 * neither tagged in the store nor pinned by `roots` (lock files, bundles), and partial
 * downloads idle for more than `partialAgeMs`.
 */
export async function collectGarbage(
  store: Store,
  rootfsRoot: string,
  roots: readonly string[],
  o: { dryRun: boolean; now?: number; partialAgeMs?: number },
): Promise<GcResult> {
  const { blobs, chains } = reachable(store, roots);
  let bytes = 0;
  const gone = (path: string) => {
    try {
      bytes += statSync(path).size;
    } catch {
      // raced away
    }
    if (!o.dryRun) rmSync(path, { recursive: true, force: true });
  };
  const deadBlobs = readdirSync(store.blobs).filter((h) => !blobs.has(`sha256:${h}`));
  deadBlobs.forEach((h) => gone(join(store.blobs, h)));
  let deadRootfs: string[] = [];
  try {
    // A temporary tree is an unpack in progress, unless its process is dead (a killed build).
    deadRootfs = readdirSync(rootfsRoot).filter(
      (d) => d !== CHAINS_DIR && !chains.has(d) && (!d.startsWith(".tmp-") || isStaleTemp(d)),
    );
  } catch {
    // nothing unpacked yet
  }
  deadRootfs.forEach((d) => gone(join(rootfsRoot, d)));
  if (!o.dryRun && existsSync(join(rootfsRoot, CHAINS_DIR)))
    for (const top of readdirSync(join(rootfsRoot, CHAINS_DIR)))
      if (!chains.has(top)) rmSync(join(rootfsRoot, CHAINS_DIR, top), { force: true });
  const now = o.now ?? Date.now();
  let candidates: string[] = [];
  try {
    candidates = readdirSync(store.tmp).filter((f) => f.startsWith("partial-"));
  } catch {
    // no tmp dir
  }
  // A partial download is stale at once when no pull holds its blob's lock (it died), and
  // otherwise only when idle past partialAgeMs (a pull that hangs).
  const partials: string[] = [];
  for (const f of candidates) {
    const idle = now - (statSync(join(store.tmp, f), { throwIfNoEntry: false })?.mtimeMs ?? now);
    const lock = await tryLock(store.blobLockPath(`sha256:${f.slice("partial-".length)}`));
    const free = typeof lock === "function";
    if (free || idle > (o.partialAgeMs ?? 3600_000)) {
      partials.push(f);
      gone(join(store.tmp, f));
    }
    if (free) await lock();
  }
  return { blobs: deadBlobs.map((h) => `sha256:${h}`), rootfs: deadRootfs, partials, bytes };
}
