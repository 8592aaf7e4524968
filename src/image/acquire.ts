import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ResolvedBuild, ResolvedConfig, ResolvedContainer } from "../model/types.js";
import { BuildError, RegistryError } from "../errors.js";
import type { Credentials } from "./auth.js";
import type { Platform } from "./manifest.js";
import {
  isComplete,
  pullImage,
  readStoredImage,
  type PullEvent,
  type PullOptions,
  type StoredImage,
} from "./pull.js";
import { formatReference, parseReference } from "../model/reference.js";
import { Store } from "./store.js";
import { importImageFile } from "./archive.js";
import { lockPathFor, readLock, writeLock, type LockEntry } from "./lock.js";
import { BUILD_ID_LABEL, buildDigest, findBuilder, railyardOwnFiles, runBuilder } from "./build.js";
import { chooseRuntime, hostProbe } from "../host/detect.js";
import { checkoutGitContext, gitCheckoutDir } from "./git.js";

export const storeDir = (config: ResolvedConfig): string => join(config.stateDir, "images");
export const rootfsRoot = (config: ResolvedConfig): string => join(config.stateDir, "rootfs");

export interface AcquireOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly onEvent?: (e: PullEvent) => void;
  readonly log?: (m: string) => void;
  /** Notices the user should see even without --verbose. */
  readonly warn?: (m: string) => void;
  /** Re-resolve tags even when locked (`railyard lock --update`, `pull`). */
  readonly update?: boolean;
  /** See PullOptions.onManifest: only called when the image is pulled. */
  readonly onManifest?: PullOptions["onManifest"];
}

function loginCredentials(c: ResolvedContainer): Credentials | undefined {
  const l = c.image?.login;
  if (!l) return undefined;
  let password: string;
  try {
    password = readFileSync(l.passwordFile, "utf8").replace(/\r?\n$/, "");
  } catch (e) {
    throw new BuildError(
      `containers.${c.name}.login.passwordFile: cannot read ${l.passwordFile}: ${(e as Error).message}`,
      c.name,
    );
  }
  return { username: l.username, password };
}

export const hostPlatform = (c: ResolvedContainer): Platform => ({
  os: c.os,
  architecture: c.arch,
});

/**
 * A `build:` image: the one the lock names when its context hash still matches and the store
 * has it (no builder runs), else built now and imported like an image file.
 */
async function buildImage(
  config: ResolvedConfig,
  c: ResolvedContainer,
  given: ResolvedBuild,
  name: string,
  o: AcquireOptions,
  store: Store,
  fromStore: (digest: string) => StoredImage | undefined,
  locked: LockEntry | undefined,
): Promise<{ image: StoredImage; context: string }> {
  const where = `containers.${c.name}.build`;
  const started = Date.now();
  const probe = hostProbe(o.env);
  // A git context is fetched first (once, or again at an update), then built as a directory.
  const b = given.git
    ? await checkoutGitContext(
        { ...given, git: given.git },
        gitCheckoutDir(config.stateDir, c.name),
        {
          update: o.update === true,
          git: probe.which("git"),
          where,
          container: c.name,
          env: o.env,
        },
      )
    : given;
  const own = railyardOwnFiles(config);
  const context = buildDigest(b, where, c.name, own);
  const seconds = () => Math.round((Date.now() - started) / 100) / 10;
  const cached = !o.update && locked?.context === context ? fromStore(locked.digest) : undefined;
  if (cached) {
    o.onEvent?.({
      kind: "built",
      ref: name,
      digest: cached.digest,
      rebuilt: false,
      seconds: seconds(),
    });
    return { image: cached, context };
  }
  const builder = findBuilder(probe.which);
  if (!builder)
    throw new BuildError(
      `${where}: no image builder found. install buildah (apt-get install buildah), or podman`,
      c.name,
    );
  const runtime = chooseRuntime(config.runtime, probe);
  // The builder's own output layout, kept between builds (image/build.ts, runBuilder).
  const layout = join(config.stateDir, "build", c.name);
  mkdirSync(dirname(layout), { recursive: true, mode: 0o700 });
  o.onEvent?.({ kind: "build", ref: name, context: b.context, builder: builder.name });
  await runBuilder(builder, b, {
    layout,
    runtime: runtime.path,
    pull: o.update ? "always" : "missing",
    where,
    container: c.name,
    own,
    onLine: (line) => o.onEvent?.({ kind: "build-output", ref: name, line }),
  });
  const imported = await importImageFile(store, `oci:${layout}:latest`, {
    name,
    platform: hostPlatform(c),
    tmpDir: store.tmp,
    normalise: (t) => formatReference(parseReference(t)),
  });
  const built = readStoredImage(store, imported.digest, hostPlatform(c));
  // A build that changed nothing the container runs (a comment in the Dockerfile, `railyard
  // update` with the same base) keeps the image it had, so its service is not restarted.
  const previous = locked ? fromStore(locked.digest) : undefined;
  const image = previous && runsTheSame(previous, built) ? previous : built;
  o.onEvent?.({
    kind: "built",
    ref: name,
    digest: image.digest,
    rebuilt: true,
    ...(image === previous ? { same: true } : {}),
    seconds: seconds(),
  });
  return { image, context };
}

/** Two images with the same layers and the same config but for the build's own label. */
function runsTheSame(a: StoredImage, b: StoredImage): boolean {
  const key = (i: StoredImage) => {
    const { Labels, ...rest } = i.config.config ?? {};
    const labels = Object.entries(Labels ?? {}).filter(([k]) => k !== BUILD_ID_LABEL);
    return stableJson([
      i.config.architecture,
      i.config.os,
      i.config.variant,
      i.config.rootfs.diff_ids,
      rest,
      labels.sort(),
    ]);
  };
  return key(a) === key(b);
}

/** JSON with every object's keys sorted, for comparing parsed documents. */
function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0)))
      : x,
  );
}

/**
 * The image of a container, in the store: by the digest in railyard.lock when there is one, else
 * by pulling (per the container's pull policy), after which the lock records the digest. Pulling
 * happens here, at build time, and never when a container starts.
 */
export async function acquireImage(
  config: ResolvedConfig,
  c: ResolvedContainer,
  o: AcquireOptions,
): Promise<StoredImage> {
  const img = c.image;
  if (!img) throw new BuildError(`containers.${c.name} has no image`, c.name);
  const store = new Store(storeDir(config)).init();
  const platform = hostPlatform(c);
  const lockPath = lockPathFor(config.file);
  const lock = readLock(lockPath);
  const ref = parseReference(img.ref);
  const name = formatReference(ref);
  const locked = ref.digest ?? lock.images[name]?.digest;
  const where = `containers.${c.name}.image`;

  const fromStore = (digest: string) =>
    isComplete(store, digest, platform) ? readStoredImage(store, digest, platform) : undefined;
  const credentials = loginCredentials(c);
  const pull = async (byDigest?: string) =>
    pullImage(store, byDigest ? { ...ref, digest: byDigest } : ref, {
      platform,
      registries: config.registries,
      env: o.env,
      ...(credentials ? { credentials } : {}),
      ...(o.onEvent ? { onEvent: o.onEvent } : {}),
      ...(o.onManifest ? { onManifest: o.onManifest } : {}),
    });

  let image: StoredImage | undefined;
  // A built image's lock entry carries the hash of what it was built from.
  let context: string | undefined;
  const policy = o.update ? "always" : img.pull;
  if (img.build)
    ({ image, context } = await buildImage(
      config,
      c,
      img.build,
      name,
      o,
      store,
      fromStore,
      lock.images[name],
    ));
  else if (img.file) {
    // An image file is imported as it is now, with no network; the lock follows the file.
    const imported = await importImageFile(store, img.file, {
      name,
      platform,
      tmpDir: store.tmp,
      normalise: (t) => formatReference(parseReference(t)),
    });
    image = readStoredImage(store, imported.digest, platform);
  } else if (policy === "never") {
    image = locked
      ? fromStore(locked)
      : (() => {
          const tagged = store.lookup(name);
          return tagged ? fromStore(tagged.digest) : undefined;
        })();
    if (!image)
      throw new BuildError(
        `${where}: ${name} is not in the image store and pull is "never". run railyard pull ${name}`,
        c.name,
      );
  } else if (policy === "missing" || ref.digest) {
    image = (locked ? fromStore(locked) : undefined) ?? (await pull(locked));
  } else {
    try {
      image = await pull();
    } catch (e) {
      const fallback = policy === "newer" && locked ? fromStore(locked) : undefined;
      if (!(e instanceof RegistryError) || !fallback) throw e;
      (o.warn ?? o.log)?.(
        `${where}: registry unreachable (${e.message}); keeping the locked ${locked}`,
      );
      image = fallback;
    }
  }
  const was = lock.images[name];
  if (
    (!ref.digest || context !== undefined) &&
    (was?.digest !== image.digest || was.context !== context)
  ) {
    writeLock(lockPath, {
      version: 1,
      images: { ...lock.images, [name]: { digest: image.digest, ...(context ? { context } : {}) } },
    });
    o.log?.(
      `railyard.lock: ${name} -> ${image.digest}${context ? ` (context ${context.slice(0, 19)})` : ""}`,
    );
  }
  return image;
}
