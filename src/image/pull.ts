import { RailyardError } from "../errors.js";
import { findCredentials, type Credentials } from "./auth.js";
import {
  parseImageConfig,
  parseManifestDocument,
  selectPlatform,
  type Descriptor,
  type ImageConfig,
  type Index,
  type Manifest,
  type Platform,
} from "./manifest.js";
import { formatReference, manifestRef, type ImageReference } from "../model/reference.js";
import { RegistryClient } from "./registry.js";
import type { Store } from "./store.js";

export interface RegistrySettings {
  readonly insecure?: boolean;
}

/** Progress events: one per layer as bytes arrive, for bars on a TTY or JSON lines. */
export type PullEvent =
  | {
      readonly kind: "resolved";
      readonly ref: string;
      readonly digest: string;
      readonly layers: number;
      readonly bytes: number;
    }
  | {
      readonly kind: "layer";
      readonly ref: string;
      readonly digest: string;
      readonly done: number;
      readonly size: number;
    }
  | { readonly kind: "done"; readonly ref: string; readonly digest: string }
  // A `build:` image: the builder starts, says what it does line by line, and the image is in.
  | {
      readonly kind: "build";
      readonly ref: string;
      readonly context: string;
      readonly builder: string;
    }
  | { readonly kind: "build-output"; readonly ref: string; readonly line: string }
  | {
      readonly kind: "built";
      readonly ref: string;
      readonly digest: string;
      /** False when the context was unchanged and no builder ran. */
      readonly rebuilt: boolean;
      /** The builder ran, and its image runs the same as the last one: that one is kept. */
      readonly same?: boolean;
      readonly seconds: number;
    };

export interface PullOptions {
  readonly platform: Platform;
  readonly registries?: Readonly<Record<string, RegistrySettings>>;
  readonly env: NodeJS.ProcessEnv;
  readonly credentials?: Credentials;
  readonly onEvent?: (e: PullEvent) => void;
  readonly fetch?: typeof fetch;
  /** Parallel layer downloads. @default 3 */
  readonly concurrency?: number;
  /**
   * Called once the manifest and config are stored and before the layers download. `layer(i)`
   * settles when layer i is in the store, verified, so that unpacking can follow the download
   * instead of waiting for all of it. A failed pull rejects every layer not yet stored.
   */
  readonly onManifest?: (img: StoredImage, layer: (i: number) => Promise<void>) => void;
}

/** An image in the store: the digest a reference resolved to, and the platform manifest and config. */
export interface StoredImage {
  /** What the reference pins: the index digest for multi-arch images, else the manifest's. */
  readonly digest: string;
  readonly manifestDigest: string;
  readonly manifest: Manifest;
  readonly config: ImageConfig;
  readonly configDigest: string;
}

async function inParallel<T>(
  items: readonly T[],
  limit: number,
  f: (t: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await f(items[next++] as T);
  });
  await Promise.all(workers);
}

/** Read an image whose blobs are all in the store (no network). */
export function readStoredImage(store: Store, digest: string, platform: Platform): StoredImage {
  const top = parseManifestDocument(store.readBlob(digest));
  let manifestDigest = digest;
  let manifest: Manifest;
  if (top.kind === "index") {
    const chosen = selectPlatform(top, platform);
    manifestDigest = chosen.digest;
    const m = parseManifestDocument(store.readBlob(chosen.digest), chosen.mediaType);
    if (m.kind !== "manifest")
      throw new RailyardError(`${chosen.digest}: nested indexes are not supported`);
    manifest = m;
  } else manifest = top;
  const config = parseImageConfig(store.readBlob(manifest.config.digest));
  return { digest, manifestDigest, manifest, config, configDigest: manifest.config.digest };
}

/** Is every blob of this image present? */
export function isComplete(store: Store, digest: string, platform: Platform): boolean {
  try {
    const img = readStoredImage(store, digest, platform);
    return img.manifest.layers.every((l) => store.has(l));
  } catch {
    return false;
  }
}

/**
 * Pull an image into the store: the manifest (or index, then this platform's manifest), the config
 * and the layers, each verified against its digest and size. Layers download in parallel and resume
 * where an earlier pull was interrupted. The reference is tagged in the store only when all is there.
 */
export async function pullImage(
  store: Store,
  ref: ImageReference,
  o: PullOptions,
): Promise<StoredImage> {
  const name = formatReference(ref);
  const settings = o.registries?.[ref.domain] ?? {};
  const client = new RegistryClient(ref.domain, {
    insecure: settings.insecure === true,
    credentials: o.credentials ?? findCredentials(ref.domain, o.env),
    ...(o.fetch ? { fetch: o.fetch } : {}),
  });
  const top = await client.manifest(ref.path, manifestRef(ref));
  const topDoc: Manifest | Index = parseManifestDocument(top.bytes, top.contentType);
  store.putBytes(top.bytes, { digest: top.digest });
  let manifestDesc: Descriptor = {
    mediaType: topDoc.mediaType,
    digest: top.digest,
    size: top.bytes.length,
  };
  if (topDoc.kind === "index") {
    manifestDesc = selectPlatform(topDoc, o.platform);
    if (!store.has(manifestDesc)) {
      const m = await client.manifest(ref.path, manifestDesc.digest);
      parseManifestDocument(m.bytes, m.contentType);
      store.putBytes(m.bytes, manifestDesc);
    }
  }
  const manifest = parseManifestDocument(
    store.readBlob(manifestDesc.digest),
    manifestDesc.mediaType,
  );
  if (manifest.kind !== "manifest")
    throw new RailyardError(`${name}: nested indexes are not supported`);
  await client.blob(ref.path, manifest.config, store);
  const config = parseImageConfig(store.readBlob(manifest.config.digest));
  if (config.rootfs.diff_ids.length !== manifest.layers.length)
    throw new RailyardError(
      `${name}: the config lists ${config.rootfs.diff_ids.length} diff_ids for ${manifest.layers.length} layers`,
    );
  if (config.os && config.architecture) {
    const want = o.platform;
    if (config.os !== want.os || config.architecture !== want.architecture)
      throw new RailyardError(
        `${name}: the image is for ${config.os}/${config.architecture}, this host is ${want.os}/${want.architecture}`,
      );
  }
  const total = manifest.layers.reduce((a, l) => a + l.size, 0);
  o.onEvent?.({
    kind: "resolved",
    ref: name,
    digest: top.digest,
    layers: manifest.layers.length,
    bytes: total,
  });
  const image: StoredImage = {
    digest: top.digest,
    manifestDigest: manifestDesc.digest,
    manifest,
    config,
    configDigest: manifest.config.digest,
  };
  const layers = manifest.layers.map((desc) => ({ desc, stored: deferred() }));
  o.onManifest?.(image, (i) => layers[i]?.stored.promise ?? Promise.resolve());
  try {
    await inParallel(layers, o.concurrency ?? 3, async ({ desc: l, stored }) => {
      await client.blob(ref.path, l, store, (done) =>
        o.onEvent?.({ kind: "layer", ref: name, digest: l.digest, done, size: l.size }),
      );
      stored.resolve();
    });
  } catch (e) {
    for (const l of layers) l.stored.reject(e);
    throw e;
  }
  await store.tag(name, {
    mediaType: topDoc.mediaType,
    digest: top.digest,
    size: top.bytes.length,
  });
  o.onEvent?.({ kind: "done", ref: name, digest: top.digest });
  return image;
}

/** A promise with its resolve and reject; a rejection nobody awaits is not reported as unhandled. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve = () => {};
  let reject: (e: unknown) => void = () => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}
