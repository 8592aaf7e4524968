import { readHostFacts, type HostFacts } from "../host/facts.js";
import { existsSync, lstatSync, mkdirSync, rmSync } from "node:fs";
import { replaceSymlink } from "../util/atomic.js";
import { basename, join } from "node:path";
import { computeClosure, type PlanEntry } from "../closure/index.js";
import { hostFs } from "../closure/fs.js";
import { dpkgArch } from "../closure/dpkg.js";
import type {
  ResolvedConfig,
  ResolvedContainer,
  ResolvedMount,
  RootlessScope,
} from "../model/types.js";
import type { AcquireOptions } from "../image/acquire.js";
import type { StoredImage } from "../image/pull.js";
import {
  deviceInfo,
  customSeccomp,
  prepareMountSources,
  readEnvFiles,
  containerResolvConf,
  dirLookup,
  readInRoot,
  seedVolume,
  type VolumeSeed,
} from "./host.js";
import { hostProcess, imageProcess, type ProcessInfo } from "./process.js";
import { planRootfs, type RootfsInputs, type RootfsPlan } from "./rootfs.js";
import { renderSpec, rlimitsFor, serializeSpec, type DeviceInfo, type OciSpec } from "./spec.js";
import type { OciSeccomp } from "./seccomp.js";
import { mergeStartEnv } from "./env-files.js";
import { BuildError } from "../errors.js";
import { hostIdOf, payloadCgroup } from "../rootless/scope.js";
import { secretMounts } from "./secrets.js";
import { fingerprint, readStamp, writeBundle, type LinkMode } from "./write.js";
import { containerHostsFile, ensureFile } from "../network/files.js";
import { extraHostLines, hostsNetworks } from "../network/hosts.js";
import { EMPTY_ALLOCATION, type NetworkAllocation } from "../network/allocate.js";
import { mountArgs, overlayOf, overlayTarget, type Overlay } from "../runtime/overlay.js";
import { containerId, idScopeOf } from "../model/ids.js";
import { cdiInjection, loadCdiRegistry, type CdiInjection } from "../cdi/host.js";

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
  /** A writable image root: the overlay to mount before the runtime starts. */
  readonly overlay?: Overlay;
}

export interface BuildOptions extends Partial<AcquireOptions> {
  readonly log?: (message: string) => void;
  /** Rebuild even if the stamp says the bundle is current. */
  readonly force?: boolean;
  /** false: compute the fingerprint only (switch --dry-run); nothing is written. */
  readonly write?: boolean;
  /** The host's facts, read once for a whole generation (else read here, for one container). */
  readonly facts?: HostFacts;
  /**
   * The networks' addresses, for an `extraHosts` "host-gateway" on network "private" (the host's
   * end of the container's link). Required for such a container.
   */
  readonly alloc?: NetworkAllocation;
}

/** The newest bundle of a container: a link to the content-named directory. */
export const bundleDir = (config: ResolvedConfig, name: string): string =>
  join(config.stateDir, "bundles", name);

/**
 * Read-only roots are hardlinked. A writable image root is an overlay over the shared unpacked
 * image; other writable roots (host programs, and rootless, where the user's manager cannot
 * mount) are made of copies. Either way nothing shared is ever written.
 */
export const linkModeFor = (c: ResolvedContainer, rootless?: RootlessScope): LinkMode =>
  c.readonly ? "hardlink" : c.image && !rootless ? "overlay" : "copy";

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
    arch: dpkgArch(c.arch),
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

/** A container's own volume for `path`: `<stateDir>/volumes/NAME/var_lib_x` for /var/lib/x. */
const volumeDir = (config: ResolvedConfig, c: ResolvedContainer, path: string): string =>
  join(config.stateDir, "volumes", c.name, path.slice(1).replace(/\//g, "_"));

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
      source: volumeDir(config, c, v),
      options: ["rbind", "rw"],
      origin: `image Volume ${v}`,
    }));
}

/**
 * The directories a host program writes as its Debian service does (`fromHost`, see `service`)
 * that the config does not mount itself: a tmpfs with the directory's mode and owner, or a
 * volume at `<stateDir>/volumes/NAME/PATH`, which starts as a copy of the host's directory.
 */
export function hostWritableMounts(
  config: ResolvedConfig,
  c: ResolvedContainer,
): {
  mounts: ResolvedMount[];
  seeds: VolumeSeed[];
} {
  const mounts: ResolvedMount[] = [];
  const seeds: VolumeSeed[] = [];
  for (const w of c.fromHost?.writable ?? []) {
    if (c.mounts.some((m) => m.destination === w.path)) continue;
    const owner = { uid: w.uid ?? 0, gid: w.gid ?? 0 };
    if (w.kind === "tmpfs") {
      mounts.push({
        destination: w.path,
        type: "tmpfs",
        source: "tmpfs",
        options: [
          "nosuid",
          "nodev",
          `mode=${w.mode.toString(8).padStart(4, "0")}`,
          `uid=${owner.uid}`,
          `gid=${owner.gid}`,
        ],
        origin: w.from,
      });
      continue;
    }
    const source = volumeDir(config, c, w.path);
    mounts.push({
      destination: w.path,
      type: "bind",
      source,
      options: ["rbind", "rw"],
      origin: w.from,
    });
    seeds.push({ source, from: w.path, copy: w.seed, owner, mode: w.mode });
  }
  return { mounts, seeds };
}

/** `init: true`: Debian's static tini (no libraries needed in the image), bound read-only. */
export const INIT_BINARY = "/usr/bin/tini-static";
/** Where the init appears inside, docker's place for its own (`/sbin/docker-init`). */
export const INIT_PATH = "/sbin/railyard-init";

function initMounts(c: ResolvedContainer): ResolvedMount[] {
  if (!c.init) return [];
  if (!existsSync(INIT_BINARY))
    throw new BuildError(
      `containers.${c.name}.init: ${INIT_BINARY} is missing. install Debian's tini package (apt-get install tini), or remove init`,
      c.name,
    );
  return [
    {
      destination: INIT_PATH,
      type: "bind",
      source: INIT_BINARY,
      options: ["bind", "ro", "nosuid", "nodev"],
      origin: "init",
    },
  ];
}

/** The process under the init: tini runs it as its child, reaps zombies and passes signals on. */
const withInit = (c: ResolvedContainer, p: ProcessInfo): ProcessInfo =>
  c.init ? { ...p, args: [INIT_PATH, "--", ...p.args] } : p;

/**
 * A named network's /etc/hosts: one file per network under the state directory, bind-mounted
 * read-only, so that a switch that adds a member rewrites it (in place) for every member without
 * restarting them. The file must exist for the mount; `publishHosts` fills it.
 */
export function networkMounts(config: ResolvedConfig, c: ResolvedContainer): ResolvedMount[] {
  // One that joins a member's namespace shares its names too.
  const nets = hostsNetworks(config, c);
  if (nets.length === 0) return [];
  return [
    {
      destination: "/etc/hosts",
      type: "bind",
      source: containerHostsFile(config, c),
      options: ["bind", "ro", "nosuid", "nodev", "noexec"],
      origin: `network${nets.length > 1 ? "s" : ""} ${nets.join(", ")}`,
    },
  ];
}

/**
 * Rootless, the process's ids must be mapped (an image's USER is known only now), and so must
 * its groupAdd groups: runc would refuse them at start. The problem, or undefined. Pure.
 */
export function unmappedIds(
  c: ResolvedContainer,
  p: Pick<ProcessInfo, "user" | "additionalGids">,
  scope: RootlessScope,
): string | undefined {
  const range = `(0-${scope.subuid.count}:0-${scope.subgid.count})`;
  if (
    hostIdOf(p.user.uid, scope.uid, scope.subuid) === undefined ||
    hostIdOf(p.user.gid, scope.gid, scope.subgid) === undefined
  )
    return `containers.${c.name}: the process runs as ${p.user.uid}:${p.user.gid}, outside the ids a rootless container maps ${range}. set user to ids in that range`;
  const gid = (p.additionalGids ?? []).find(
    (g) => hostIdOf(g, scope.gid, scope.subgid) === undefined,
  );
  if (gid !== undefined)
    return `containers.${c.name}.groupAdd: the group ${gid} is outside the ids a rootless container maps ${range}. use a group in that range`;
  return undefined;
}

/**
 * What one container's bundle is planned from: the host's facts, the image or closure, the
 * mounts and their kinds, device nodes, a custom seccomp profile and the env files, all read
 * (and the mount sources prepared) before planning starts. planContainer reads nothing else.
 */
export interface ContainerInputs {
  readonly src: Source;
  /** The program (host) or the image's first argument, as the config names it (before init). */
  readonly program: string;
  readonly facts: HostFacts;
  /** The mounts beyond the config's own (volumes, network files, init, CDI's). */
  readonly extra: readonly ResolvedMount[];
  readonly secrets: readonly ResolvedMount[];
  /** Mount destinations whose source is a file. */
  readonly fileMounts: ReadonlySet<string>;
  readonly cdi: CdiInjection | undefined;
  readonly devices: Record<string, DeviceInfo>;
  readonly seccomp: { customSeccomp?: OciSeccomp };
  /** The values of the container's env files, as the start will read them. */
  readonly fileEnv: ReturnType<typeof readEnvFiles>;
  /** `extraHosts` as /etc/hosts lines, when the rootfs holds the file (no named network). */
  readonly extraHosts: readonly string[];
  /** The image's tree, looked up on demand (the one read planning makes, of railyard's store). */
  readonly baseLookup?: RootfsInputs["baseLookup"];
}

/** A container's bundle as planned: its rootfs, its runtime spec, and its content-named dir. */
export interface ContainerPlan {
  readonly rootfs: RootfsPlan;
  readonly spec: OciSpec;
  readonly specText: string;
  readonly fingerprint: string;
  readonly dir: string;
  readonly linkMode: LinkMode;
  /** What the plan changed from the config to fit this host (a ulimit lowered), to be said. */
  readonly notes: readonly string[];
}

/** Read the host and the image for one container, and prepare its mount sources. */
async function readInputs(
  config: ResolvedConfig,
  c: ResolvedContainer,
  o: BuildOptions,
  log: (m: string) => void,
): Promise<ContainerInputs> {
  // Read once per generation when the caller gives them.
  const facts = o.facts ?? readHostFacts();
  const found = c.image ? await imageSource(config, c, o) : hostSource(c);
  const src = { ...found, process: withInit(c, found.process) };
  const mounts = await gatherMounts(config, c, src, containerId(c.name, config), log);
  return {
    src,
    program: found.process.args[0] ?? "",
    facts,
    ...mounts,
    devices: deviceInfo(c),
    seccomp: customSeccomp(c),
    // Read now to refuse a missing or broken file (exit 2); the start reads them again.
    fileEnv: readEnvFiles(c, config.file),
    // On named networks they are in the hosts file the container mounts (network/files.ts).
    extraHosts:
      hostsNetworks(config, c).length > 0
        ? []
        : extraHostLines(config, c, o.alloc ?? EMPTY_ALLOCATION),
    ...(src.base ? { baseLookup: dirLookup(src.base.dir) } : {}),
  };
}

/** Plan one container's bundle from its inputs alone: pure (but for `baseLookup`). */
export function planContainer(
  config: ResolvedConfig,
  c: ResolvedContainer,
  inputs: ContainerInputs,
): ContainerPlan {
  const { src, facts, extra, secrets, fileMounts, cdi } = inputs;
  const rootless = config.rootless;
  const id = containerId(c.name, config);
  const rootfs = planRootfs(
    c,
    src.process,
    src.closure,
    {
      resolvConf: containerResolvConf(c, facts),
      extraHosts: inputs.extraHosts,
      ...(src.base ? {} : { hostAccounts: facts.accounts }),
      ...(!src.base && hostsNetworks(config, c).some((n) => config.networks[n]?.ipv6)
        ? { hostConf: "multi on\n" }
        : {}),
      fileMounts,
      ...(inputs.baseLookup ? { baseLookup: inputs.baseLookup } : {}),
    },
    src.base,
    [...extra, ...secrets],
  );
  const linkMode = linkModeFor(c, rootless);
  const limits = rlimitsFor(c, facts.hardLimits);
  const spec = renderSpec(c, {
    rlimits: limits.rlimits,
    devices: inputs.devices,
    process: src.process,
    extraMounts: [...extra, ...secrets],
    cgroupsPath: payloadCgroup(c, rootless),
    ...(linkMode === "overlay" ? { rootPath: overlayTarget(id) } : {}),
    ...(rootless ? { rootless } : {}),
    scope: idScopeOf(config),
    ...inputs.seccomp,
    ...(cdi ? { cdi } : {}),
  });
  const specText = serializeSpec(spec);
  const fp = fingerprint(specText, rootfs, linkMode);
  // Bundles are named by content, so generations share every bundle that did not change.
  const dir = join(config.stateDir, "bundles", `${c.name}-${fp.slice("sha256:".length, 23)}`);
  return { rootfs, spec, specText, fingerprint: fp, dir, linkMode, notes: limits.notes };
}

/** Build (or confirm up to date) the bundle of one container: read, plan, then write. */
export async function buildContainer(
  config: ResolvedConfig,
  c: ResolvedContainer,
  o: BuildOptions = {},
): Promise<BuildResult> {
  const log = o.log ?? (() => {});
  const inputs = await readInputs(config, c, o, log);
  const { src, program, fileEnv } = inputs;
  const {
    rootfs: plan,
    spec,
    specText,
    fingerprint: fp,
    dir,
    linkMode,
    notes,
  } = planContainer(config, c, inputs);
  for (const n of notes) (o.warn ?? log)(n);
  const base = {
    container: c.name,
    bundle: dir,
    fingerprint: fp,
    entries: plan.entries.size,
    program,
    packages: src.packages,
    ...(src.image ? { image: src.image } : {}),
    stopSignal: src.process.stopSignal,
    ...(linkMode === "overlay" && src.base
      ? { overlay: checkedOverlay(dir, src.base.dir, c.name, containerId(c.name, config)) }
      : {}),
  };
  const result = (changed: boolean): BuildResult => {
    const r = { ...base, changed };
    envOf.set(r, mergeStartEnv(spec.process.env, fileEnv, Object.keys(c.environment)));
    return r;
  };
  if (!o.force && readStamp(dir)?.fingerprint === fp) {
    if (o.write !== false) linkLatest(config, c.name, dir);
    return result(false);
  }
  if (o.write === false) return result(true);
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
  return result(true);
}

/**
 * Everything a container mounts beyond its config's mounts: volumes (made now), the network's
 * files, init, CDI's, and its secrets; and which mount points must be files. Their sources are
 * prepared (made, owned) here.
 */
async function gatherMounts(
  config: ResolvedConfig,
  c: ResolvedContainer,
  src: { process: ProcessInfo },
  id: string,
  log: (m: string) => void,
) {
  const rootless = config.rootless;
  const volumes = volumeMounts(config, c, src.process);
  for (const m of volumes) mkdirSync(m.source, { recursive: true, mode: 0o755 });
  const host = hostWritableMounts(config, c);
  for (const s of host.seeds) await seedVolume(s, c.name, rootless, log);
  const netMounts = networkMounts(config, c);
  for (const m of netMounts) ensureFile(m.source);
  // CDI devices: read the specs only when the container asks for one.
  const cdi =
    c.cdiDevices.length > 0
      ? cdiInjection(c, await loadCdiRegistry(config.cdiSpecDirs), src.process.user)
      : undefined;
  const extra = [
    ...volumes,
    ...host.mounts,
    ...netMounts,
    ...initMounts(c),
    ...(cdi?.mounts ?? []),
  ];
  const unmapped = rootless ? unmappedIds(c, src.process, rootless) : undefined;
  if (unmapped !== undefined) throw new BuildError(unmapped, c.name);
  const fileMounts = await prepareMountSources(
    c,
    [...c.mounts, ...extra],
    src.process.user,
    log,
    rootless,
  );
  // A secret's copy exists only while the container runs: its mount point is a file, always.
  const secrets = secretMounts(c, id, rootless);
  for (const m of secrets) fileMounts.add(m.destination);
  return { extra, secrets, fileMounts, cdi };
}

/**
 * The environment each built bundle starts with (its files' values as read now), kept beside its BuildResult rather than in it,
 * so that no JSON of a result (build --json) ever carries a value. railyard diff compares them.
 */
const envOf = new WeakMap<BuildResult, readonly string[]>();
export const bundleEnv = (r: BuildResult): readonly string[] | undefined => envOf.get(r);

function checkedOverlay(bundle: string, base: string, name: string, id: string): Overlay {
  const o = overlayOf(bundle, base, id);
  mountArgs(o, name); // refuses paths that overlayfs cannot take
  return o;
}

/** `<stateDir>/bundles/NAME` always names the newest bundle built for NAME (for people and scripts). */
function linkLatest(config: ResolvedConfig, name: string, dir: string): void {
  const link = bundleDir(config, name);
  // A state dir from before content-named bundles has a real directory here.
  if (lstatSync(link, { throwIfNoEntry: false })?.isDirectory())
    rmSync(link, { recursive: true, force: true });
  replaceSymlink(basename(dir), link);
}
