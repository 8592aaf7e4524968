import { lstatSync, mkdirSync, rmSync } from "node:fs";
import { replaceSymlink } from "../util/atomic.js";
import { basename, join } from "node:path";
import { computeClosure, type PlanEntry } from "../closure/index.js";
import { hostFs } from "../closure/fs.js";
import type {
  ResolvedConfig,
  ResolvedContainer,
  ResolvedMount,
  RootlessScope,
} from "../config/types.js";
import type { AcquireOptions } from "../image/acquire.js";
import type { StoredImage } from "../image/pull.js";
import {
  deviceInfo,
  hostNofileHard,
  customSeccomp,
  prepareMountSources,
  readEnvFiles,
  containerResolvConf,
  readInRoot,
} from "./host.js";
import { hostProcess, imageProcess, type ProcessInfo } from "./process.js";
import { dirLookup, planRootfs, type RootfsPlan } from "./rootfs.js";
import { renderSpec, serializeSpec } from "./spec.js";
import { BuildError } from "../errors.js";
import { hostIdOf, payloadCgroup } from "../rootless/scope.js";
import { fingerprint, readStamp, writeBundle, type LinkMode } from "./write.js";
import { ensureFile, hostsFile } from "../network/files.js";

export interface BuildResult {
  readonly container: string;
  readonly bundle: string;
  /** False when the existing bundle was already up to date. */
  readonly changed: boolean;
  readonly fingerprint: string;
  readonly entries: number;
  /** The program (host) or the first argument (image). */
  readonly program: string;
  readonly packages: readonly string[];
  /** The pinned image digest, for image containers. */
  readonly image?: string;
  /** The stop signal and timeout the runtime should use. */
  readonly stopSignal: string;
}

export interface BuildOptions extends Partial<AcquireOptions> {
  readonly log?: (message: string) => void;
  /** Rebuild even if the stamp says the bundle is current. */
  readonly force?: boolean;
  /** false: compute the fingerprint only (switch --dry-run); nothing is written. */
  readonly write?: boolean;
}

/** OCI architecture names -> dpkg's. */
const DPKG_ARCH: Record<string, string> = { "386": "i386", arm: "armhf" };

/** The newest bundle of a container: a link to the content-named directory. */
export const bundleDir = (config: ResolvedConfig, name: string): string =>
  join(config.stateDir, "bundles", name);

/** Read-only roots are hardlinked; a writable root is made of copies, so nothing shared is written. */
export const linkModeFor = (c: ResolvedContainer): LinkMode => (c.readonly ? "hardlink" : "copy");

interface Source {
  readonly process: ProcessInfo;
  readonly closure: ReadonlyMap<string, PlanEntry>;
  readonly packages: readonly string[];
  readonly base?: RootfsPlan["base"];
  readonly image?: string;
}

function hostSource(c: ResolvedContainer): Source {
  const closure = computeClosure(c.args[0] ?? "", {
    fs: hostFs(),
    mode: c.closure,
    include: c.include,
    ...(c.environment["PATH"] ? { searchPath: c.environment["PATH"] } : {}),
    arch: DPKG_ARCH[c.arch] ?? c.arch,
  });
  return {
    process: hostProcess(c, closure.program),
    closure: closure.entries,
    packages: closure.packages,
  };
}

async function imageSource(
  config: ResolvedConfig,
  c: ResolvedContainer,
  o: BuildOptions,
): Promise<Source> {
  // Loaded here, not at the top: a host container (and `railyard run` of one) never needs them.
  const [{ acquireImage, rootfsRoot, storeDir }, { Store }, { unpackImage }] = await Promise.all([
    import("../image/acquire.js"),
    import("../image/store.js"),
    import("../image/unpack.js"),
  ]);
  const store = new Store(storeDir(config));
  const unpack = (img: StoredImage, ready?: (i: number) => Promise<void>) =>
    unpackImage(store, img, rootfsRoot(config), {
      asRoot: process.getuid?.() === 0,
      ...(ready ? { ready } : {}),
    });
  // A pulled image is unpacked as its layers arrive, not after the last one.
  const early: { digest?: string; dir?: Promise<string> } = {};
  let image: StoredImage;
  try {
    image = await acquireImage(config, c, {
      env: o.env ?? process.env,
      ...o,
      onManifest: (img, ready) => {
        early.digest = img.digest;
        early.dir = unpack(img, ready);
        early.dir.catch(() => {});
      },
    });
  } catch (e) {
    await early.dir?.catch(() => {}); // its temporary tree is removed before we go on
    throw e;
  }
  if (early.dir && early.digest !== image.digest) await early.dir.catch(() => {});
  const dir = await (early.digest === image.digest && early.dir ? early.dir : unpack(image));
  const db = {
    passwd: readInRoot(dir, "/etc/passwd") ?? "",
    group: readInRoot(dir, "/etc/group") ?? "",
  };
  return {
    process: imageProcess(c, image.config, db),
    closure: new Map(),
    packages: [],
    base: { dir, id: image.manifestDigest },
    image: image.digest,
  };
}

/** Persistent directories for the image's Volumes that the config does not mount itself. */
function volumeMounts(
  config: ResolvedConfig,
  c: ResolvedContainer,
  p: ProcessInfo,
): ResolvedMount[] {
  return p.volumes
    .filter((v) => !c.mounts.some((m) => m.destination === v))
    .map((v) => ({
      destination: v,
      type: "bind",
      source: join(config.stateDir, "volumes", c.name, v.slice(1).replace(/\//g, "_")),
      options: ["rbind", "rw"],
      origin: `image Volume ${v}`,
    }));
}

/**
 * A named network's /etc/hosts: one file per network under the state directory, bind-mounted
 * read-only, so that a switch that adds a member rewrites it (in place) for every member without
 * restarting them. The file must exist for the mount; `publishHosts` fills it.
 */
export function networkMounts(config: ResolvedConfig, c: ResolvedContainer): ResolvedMount[] {
  if (!(c.network in config.networks)) return [];
  return [
    {
      destination: "/etc/hosts",
      type: "bind",
      source: hostsFile(config.stateDir, c.network),
      options: ["bind", "ro", "nosuid", "nodev", "noexec"],
      origin: `network ${c.network}`,
    },
  ];
}

/** Rootless, the process's ids must be mapped (an image's USER is known only now). */
function checkMappedUser(
  c: ResolvedContainer,
  user: { uid: number; gid: number },
  scope: RootlessScope,
): void {
  if (
    hostIdOf(user.uid, scope.uid, scope.subuid) === undefined ||
    hostIdOf(user.gid, scope.gid, scope.subgid) === undefined
  )
    throw new BuildError(
      `containers.${c.name}: the process runs as ${user.uid}:${user.gid}, outside the ids a rootless container maps ` +
        `(0-${scope.subuid.count}:0-${scope.subgid.count}). set user to ids in that range`,
      c.name,
    );
}

/** Build (or confirm up to date) the bundle of one container. */
export async function buildContainer(
  config: ResolvedConfig,
  c: ResolvedContainer,
  o: BuildOptions = {},
): Promise<BuildResult> {
  const log = o.log ?? (() => {});
  const src = c.image ? await imageSource(config, c, o) : hostSource(c);
  const volumes = volumeMounts(config, c, src.process);
  for (const m of volumes) mkdirSync(m.source, { recursive: true, mode: 0o755 });
  const netMounts = networkMounts(config, c);
  for (const m of netMounts) ensureFile(m.source);
  const extra = [...volumes, ...netMounts];
  const rootless = config.rootless;
  if (rootless) checkMappedUser(c, src.process.user, rootless);
  const fileMounts = await prepareMountSources(
    c,
    [...c.mounts, ...extra],
    src.process.user,
    log,
    rootless,
  );
  const plan = planRootfs(
    c,
    src.process,
    src.closure,
    {
      resolvConf: containerResolvConf(c),
      fileMounts,
      ...(src.base ? { baseLookup: dirLookup(src.base.dir) } : {}),
    },
    src.base,
    extra,
  );
  const spec = renderSpec(c, {
    hostNofileHard: hostNofileHard(),
    fileEnvironment: readEnvFiles(c),
    devices: deviceInfo(c),
    process: src.process,
    extraMounts: extra,
    cgroupsPath: payloadCgroup(c, rootless),
    ...(rootless ? { rootless } : {}),
    ...customSeccomp(c),
  });
  const specText = serializeSpec(spec);
  const linkMode = linkModeFor(c);
  const fp = fingerprint(specText, plan, linkMode);
  // Bundles are named by content, so generations share every bundle that did not change.
  const dir = join(config.stateDir, "bundles", `${c.name}-${fp.slice("sha256:".length, 23)}`);
  const program = src.process.args[0] ?? "";
  const base = {
    container: c.name,
    bundle: dir,
    fingerprint: fp,
    entries: plan.entries.size,
    program,
    packages: src.packages,
    ...(src.image ? { image: src.image } : {}),
    stopSignal: src.process.stopSignal,
  };
  if (!o.force && readStamp(dir)?.fingerprint === fp) {
    if (o.write !== false) linkLatest(config, c.name, dir);
    return { ...base, changed: false };
  }
  if (o.write === false) return { ...base, changed: true };
  writeBundle(dir, specText, plan, {
    fingerprint: fp,
    container: c.name,
    program,
    packages: src.packages,
    entries: plan.entries.size,
    linkMode,
    ...(src.image ? { image: src.image } : {}),
  });
  linkLatest(config, c.name, dir);
  log(
    `built ${c.name}: ${src.image ? `image ${src.image}` : `${plan.entries.size} rootfs entries`} (${linkMode})`,
  );
  return { ...base, changed: true };
}

/** `<stateDir>/bundles/NAME` always names the newest bundle built for NAME (for people and scripts). */
function linkLatest(config: ResolvedConfig, name: string, dir: string): void {
  const link = bundleDir(config, name);
  // A state dir from before content-named bundles has a real directory here.
  if (lstatSync(link, { throwIfNoEntry: false })?.isDirectory())
    rmSync(link, { recursive: true, force: true });
  replaceSymlink(basename(dir), link);
}
