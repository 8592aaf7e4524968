import { randomUUID } from "node:crypto";
import type { IdScope } from "../model/ids.js";
import { ULIMITS } from "../model/ulimits.js";
import { effectiveCapabilities } from "../model/capabilities.js";
import { netnsPath } from "../network/script.js";
import { isPrivateOrNamed, joinedOwner } from "../model/network.js";
import { pastaHook, type OciHook } from "../rootless/pasta.js";
import { defaultSeccomp, type OciSeccomp } from "./seccomp.js";
import type { ResolvedContainer, ResolvedMount, RootlessScope } from "../model/types.js";
import { idMappings, type OciIdMapping } from "../rootless/scope.js";
import type { ProcessInfo } from "./process.js";
import type { CdiInjection, InjectedDevice } from "../cdi/host.js";
import type { CdiHookName } from "../cdi/spec.js";

/** The subset of the OCI runtime-spec config.json that railyard writes. */
export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<"bounding" | "effective" | "permitted" | "ambient", string[]>;
    rlimits: { type: string; hard: number; soft: number }[];
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: { destination: string; type: string; source: string; options?: string[] }[];
  annotations?: Record<string, string>;
  hooks?: Partial<Record<CdiHookName, OciHook[]>>;
  linux: {
    resources: {
      devices: { allow: boolean; type?: string; major?: number; minor?: number; access?: string }[];
      memory?: { limit: number };
      cpu?: { quota: number; period: number };
      pids?: { limit: number };
    };
    namespaces: { type: string }[];
    uidMappings?: OciIdMapping[];
    gidMappings?: OciIdMapping[];
    cgroupsPath?: string;
    devices?: {
      path: string;
      type: "b" | "c" | "u" | "p";
      major: number;
      minor: number;
      fileMode: number;
      uid: number;
      gid: number;
    }[];
    maskedPaths: string[];
    readonlyPaths: string[];
    sysctl?: Record<string, string>;
    seccomp?: OciSeccomp;
  };
}

/** A host device, as stat(2) saw it at build time. */
export interface DeviceInfo {
  readonly type: "c" | "b";
  readonly major: number;
  readonly minor: number;
  readonly fileMode: number;
}

/** Host facts and build-time inputs that the spec depends on. */
export interface SpecInputs {
  /** The process's rlimits (`rlimitsFor`): within the host's hard limits. */
  readonly rlimits: OciSpec["process"]["rlimits"];
  /** Devices by host path. */
  readonly devices: Readonly<Record<string, DeviceInfo>>;
  /** The process, from the config alone or combined with the image. */
  readonly process: ProcessInfo;
  /** Mounts railyard adds (persistent directories for the image's Volumes). */
  readonly extraMounts?: readonly ResolvedMount[];
  /** Absolute rootfs path, or the default "rootfs" relative to the bundle. */
  readonly rootPath?: string;
  /** Allocate a terminal (`railyard run -t`). */
  readonly terminal?: boolean;
  /**
   * The cgroup the container joins when a systemd unit runs it (a sub-cgroup of the service's
   * delegated cgroup). Resource limits then live in the unit, not here.
   */
  readonly cgroupsPath?: string;
  /** The container's own profile (`seccomp` is a path), read and converted at build time. */
  readonly customSeccomp?: OciSeccomp;
  /** `railyard --user`: a user namespace onto the user and its subordinate ids. */
  readonly rootless?: RootlessScope;
  /** What network namespaces are named with (the config's project, its state dir's scope). */
  readonly scope?: IdScope;
  /** What the container's CDI devices add (their mounts come in `extraMounts`). */
  readonly cdi?: CdiInjection;
}

/**
 * /sys for a rootless container on the host's network: sysfs can only be mounted by the owner of
 * the network namespace, so the host's /sys is bound read-only instead (as `runc spec --rootless`).
 */
const ROOTLESS_HOST_SYS = {
  destination: "/sys",
  type: "none",
  source: "/sys",
  options: ["rbind", "nosuid", "noexec", "nodev", "ro"],
};

/** memory/cpu/pids limits in OCI form, for a runtime that manages the cgroup itself. */
export function limitsFor(
  c: ResolvedContainer,
): Pick<OciSpec["linux"]["resources"], "memory" | "cpu" | "pids"> {
  return {
    ...(c.resources.memory !== undefined ? { memory: { limit: c.resources.memory } } : {}),
    ...(c.resources.cpus !== undefined
      ? { cpu: { quota: Math.round(c.resources.cpus * CPU_PERIOD), period: CPU_PERIOD } }
      : {}),
    ...(c.resources.pids !== undefined ? { pids: { limit: c.resources.pids } } : {}),
  };
}

/**
 * docker's and podman's defaults for a container with a network namespace of its own: any user
 * may bind ports below 1024 and open ICMP echo sockets inside it. Never for network "host".
 */
export function namespaceSysctls(
  c: Pick<ResolvedContainer, "network">,
  rootless: boolean,
): Record<string, string> {
  // On "host", they would change the host's; one that joins another's namespace finds them set.
  if (c.network === "host" || joinedOwner(c) !== undefined) return {};
  return {
    "net.ipv4.ip_unprivileged_port_start": "0",
    // In a user namespace only mapped groups can be named; the range would be refused.
    ...(rootless ? {} : { "net.ipv4.ping_group_range": "0 2147483647" }),
  };
}

/** `runc spec`'s masked and read-only paths. */
export const MASKED_PATHS = [
  "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
]; // prettier-ignore
export const READONLY_PATHS = [
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

/** `runc spec`'s mounts. */
const BASE_MOUNTS: OciSpec["mounts"] = [
  { destination: "/proc", type: "proc", source: "proc" },
  { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
  { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
  { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
  { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
  { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
  { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"] },
]; // prettier-ignore

export const CPU_PERIOD = 100_000;
const NOFILE_DEFAULT = 1024;
/** The kernel's "no limit" (RLIM_INFINITY, 2^64-1): a number JSON.stringify cannot write. */
const RLIM_INFINITY = Number.POSITIVE_INFINITY;

/**
 * The process's rlimits: `ulimits` (else nofile 1024, runc's default), each within the host's
 * hard limit (`hostLimits`, -1 for unlimited); `notes` names each one lowered to the host's.
 */
export function rlimitsFor(
  c: ResolvedContainer,
  hostLimits: Readonly<Record<string, number>>,
): { rlimits: OciSpec["process"]["rlimits"]; notes: string[] } {
  const wanted = { nofile: { soft: NOFILE_DEFAULT, hard: NOFILE_DEFAULT }, ...c.ulimits };
  const notes: string[] = [];
  const rlimits = Object.entries(wanted)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, { soft, hard }]) => {
      const host = hostLimits[name] ?? -1;
      const over = (v: number) => host !== -1 && (v === -1 || v > host);
      if (c.ulimits?.[name] !== undefined && (over(hard) || over(soft)))
        notes.push(
          `containers.${c.name}.ulimits.${name}: ${hard === -1 ? "unlimited" : hard} is above this host's hard limit; the container gets ${host}`,
        );
      const fit = (v: number) => (over(v) ? host : v === -1 ? RLIM_INFINITY : v);
      return { type: ULIMITS[name] as string, hard: fit(hard), soft: fit(soft) };
    });
  return { rlimits, notes };
}

function sortedRecord(r: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The container's environment: PATH and HOME first, then the rest sorted by name. Not its
 * environmentFiles: those are read when it starts (env-files.ts), so no bundle holds their values.
 */
export function containerEnv(
  c: ResolvedContainer,
  p: ProcessInfo,
  terminal: boolean,
  cdiEnv: readonly string[] = [],
): string[] {
  // A CDI device's variables override the image's; the config's own override both.
  const fromCdi = Object.fromEntries(
    cdiEnv.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
  );
  const env: Record<string, string> = {
    ...p.baseEnv,
    HOME: p.baseEnv["HOME"] ?? p.home,
    HOSTNAME: c.hostname,
    ...(terminal ? { TERM: "xterm" } : {}),
    ...fromCdi,
    ...c.environment,
  };
  const first = ["PATH", "HOME"];
  return [
    ...first.filter((k) => env[k] !== undefined).map((k) => `${k}=${env[k]}`),
    ...Object.entries(sortedRecord(env))
      .filter(([k]) => !first.includes(k))
      .map(([k, v]) => `${k}=${v}`),
  ];
}

/** The container's seccomp filter; undefined for "unconfined". */
function seccompFor(
  c: ResolvedContainer,
  caps: readonly string[],
  custom: OciSeccomp | undefined,
): OciSeccomp | undefined {
  if (c.seccomp === "unconfined") return undefined;
  if (c.seccomp === "default") return defaultSeccomp(caps, c.arch);
  if (!custom) throw new Error(`containers.${c.name}.seccomp: the profile was not read`);
  return custom;
}

/**
 * The capabilities a process keeps when it runs as a user other than root. A host program keeps
 * its whole (small) set, as `runc spec` writes it. An image's non-root process keeps only what
 * the config adds by name, as docker gives it none: podman's wide default set is for the root
 * entrypoint, and a process that drops to a service user (gosu, nginx's workers) loses it.
 */
function ambientCapabilities(c: ResolvedContainer, caps: readonly string[]): string[] {
  if (!c.image) return [...caps];
  return caps.filter((cap) => c.capabilities[cap] === true);
}

/** groupAdd's groups and CDI's, once each, in order. */
function additionalGids(
  p: ProcessInfo,
  cdi: CdiInjection | undefined,
): { additionalGids?: number[] } {
  const gids = [...new Set([...(p.additionalGids ?? []), ...(cdi?.additionalGids ?? [])])];
  return gids.length > 0 ? { additionalGids: gids } : {};
}

/**
 * Render a container's OCI runtime config. Pure and deterministic: the same container and inputs
 * give a byte-identical JSON. Defaults are `runc spec`'s, tightened or opened only by the config.
 */
export function renderSpec(c: ResolvedContainer, inputs: SpecInputs): OciSpec {
  const capList = effectiveCapabilities(c);
  const seccomp = seccompFor(c, capList, inputs.customSeccomp);

  const rootless = inputs.rootless;
  const namespaces = namespacesFor(c, inputs);
  const mounts = mountsFor(c, inputs);
  const { resources, devices } = devicesFor(c, inputs);
  // Under systemd the unit's MemoryMax/CPUQuota/TasksMax hold the limits for the whole service
  // cgroup; the container joins a sub-cgroup of it. Without systemd, the runtime applies them.
  if (!inputs.cgroupsPath) Object.assign(resources, limitsFor(c));

  const annotations = sortedRecord({
    ...inputs.process.labels,
    ...c.labels,
    "org.railyard.container": c.name,
  });
  const p = inputs.process;

  return {
    ociVersion: "1.0.2",
    process: {
      terminal: inputs.terminal ?? false,
      user: { uid: p.user.uid, gid: p.user.gid, ...additionalGids(p, inputs.cdi) },
      args: [...p.args],
      env: containerEnv(c, p, inputs.terminal ?? false, inputs.cdi?.env),
      cwd: p.cwd,
      capabilities: {
        bounding: capList,
        effective: capList,
        permitted: capList,
        ambient: ambientCapabilities(c, capList),
      },
      rlimits: inputs.rlimits.map((l) => ({ ...l })),
      noNewPrivileges: true,
    },
    root: { path: inputs.rootPath ?? "rootfs", readonly: c.readonly },
    hostname: c.hostname,
    mounts,
    annotations,
    ...hooksFor(c, rootless !== undefined, inputs.cdi),
    linux: {
      resources,
      namespaces,
      ...(rootless ? idMappings(rootless) : {}),
      ...(inputs.cgroupsPath ? { cgroupsPath: inputs.cgroupsPath } : {}),
      ...(devices.length > 0 ? { devices } : {}),
      ...sysctlFor(c, rootless !== undefined),
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
      ...(seccomp ? { seccomp } : {}),
    },
  };
}

/**
 * The namespaces: a private or named network's is made (with its link and address) by the
 * unit's network script before the runtime starts, and the container joins it by path.
 */
function namespacesFor(c: ResolvedContainer, inputs: SpecInputs): OciSpec["linux"]["namespaces"] {
  const rootless = inputs.rootless;
  return ["pid", "network", "ipc", "uts", "mount", ...(rootless ? ["user"] : [])]
    .filter((t) => !(t === "network" && c.network === "host") && !(t === "pid" && c.pid === "host"))
    .map((type) =>
      type !== "network"
        ? { type }
        : isPrivateOrNamed(c) && !rootless
          ? { type, path: netnsPath(c.name, inputs.scope) }
          : // "container:NAME" joins NAME's namespace, which NAME's unit made (by path, as runc does).
            joinedOwner(c) !== undefined
            ? { type, path: netnsPath(joinedOwner(c) as string, inputs.scope) }
            : { type },
    );
}

/** runc's standard mounts, less those the config mounts over, then the config's own, sorted. */
function mountsFor(c: ResolvedContainer, inputs: SpecInputs): OciSpec["mounts"] {
  const rootless = inputs.rootless;
  const userMounts = [...c.mounts, ...(inputs.extraMounts ?? [])].sort((a, b) =>
    a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0,
  );
  const shm = c.shmSize;
  const size = shm === undefined ? undefined : `size=${shm % 1024 === 0 ? `${shm / 1024}k` : shm}`;
  const base = BASE_MOUNTS.map((m) =>
    m.destination === "/sys" && rootless && c.network === "host"
      ? ROOTLESS_HOST_SYS
      : m.destination === "/dev/shm" && size !== undefined
        ? { ...m, options: [...(m.options ?? []).filter((o) => !o.startsWith("size=")), size] }
        : m,
  );
  return [
    ...base.filter((m) => !userMounts.some((u) => u.destination === m.destination)),
    ...userMounts.map((m) => ({
      destination: m.destination,
      type: m.type,
      source: m.source,
      ...(m.options.length > 0 ? { options: [...m.options] } : {}),
    })),
  ];
}

/** Device nodes (the config's and CDI's) with their cgroup rules, every other device denied. */
function devicesFor(
  c: ResolvedContainer,
  inputs: SpecInputs,
): {
  resources: OciSpec["linux"]["resources"];
  devices: NonNullable<OciSpec["linux"]["devices"]>;
} {
  const resources: OciSpec["linux"]["resources"] = { devices: [{ allow: false, access: "rwm" }] };
  const devices: NonNullable<OciSpec["linux"]["devices"]> = [];
  // The config's host devices (owned by root, as runc's own) and what CDI devices add.
  const nodes: InjectedDevice[] = [
    ...c.devices.flatMap((d) => {
      const info = inputs.devices[d.hostPath];
      if (info) return [{ ...info, path: d.path, uid: 0, gid: 0, access: d.access }];
      // A directory: each node below it, at the same place below the container's path.
      return Object.entries(inputs.devices)
        .filter(([host]) => host.startsWith(`${d.hostPath}/`))
        .map(([host, node]) => ({
          ...node,
          path: `${d.path}${host.slice(d.hostPath.length)}`,
          uid: 0,
          gid: 0,
          access: d.access,
        }));
    }),
    ...(inputs.cdi?.devices ?? []),
  ];
  for (const d of nodes) {
    devices.push({
      path: d.path,
      type: d.type,
      major: d.major,
      minor: d.minor,
      fileMode: d.fileMode,
      uid: d.uid,
      gid: d.gid,
    });
    // Block and char nodes get their cgroup rule; a fifo needs none (as the CDI reference).
    if (d.type === "b" || d.type === "c")
      resources.devices.push({
        allow: true,
        type: d.type,
        major: d.major,
        minor: d.minor,
        access: d.access,
      });
  }
  return { resources, devices };
}

/**
 * Rootless, runc makes a private network's namespace and a createRuntime hook connects it
 * (rootless/pasta.ts); CDI devices add their vendor's hooks after it.
 */
function hooksFor(
  c: ResolvedContainer,
  rootless: boolean,
  cdi: CdiInjection | undefined,
): { hooks?: NonNullable<OciSpec["hooks"]> } {
  const hooks: NonNullable<OciSpec["hooks"]> = {};
  if (rootless && c.network === "private") hooks.createRuntime = [pastaHook(c)];
  for (const { hookName, ...h } of cdi?.hooks ?? []) (hooks[hookName] ??= []).push(h);
  return Object.keys(hooks).length > 0 ? { hooks } : {};
}

function sysctlFor(c: ResolvedContainer, rootless: boolean): { sysctl?: Record<string, string> } {
  const all = { ...namespaceSysctls(c, rootless), ...c.sysctls };
  return Object.keys(all).length > 0 ? { sysctl: sortedRecord(all) } : {};
}

/** A config.json read back (`railyard run` patches a copy): 2^64-1 rlimits stay unlimited. */
export function parseSpec(text: string): OciSpec {
  const spec = JSON.parse(text) as OciSpec;
  for (const l of spec.process.rlimits) {
    if (l.hard >= 2 ** 64 - 1) l.hard = RLIM_INFINITY;
    if (l.soft >= 2 ** 64 - 1) l.soft = RLIM_INFINITY;
  }
  return spec;
}

/** The exact bytes written to config.json. */
export function serializeSpec(spec: OciSpec): string {
  // An unlimited rlimit is 2^64-1, which a JS number cannot hold: written in by token.
  const token = `rlimit-infinity-${randomUUID()}`;
  const text = JSON.stringify(
    spec,
    (k, v: unknown) => ((k === "hard" || k === "soft") && v === RLIM_INFINITY ? token : v),
    2,
  );
  return `${text.replaceAll(`"${token}"`, "18446744073709551615")}\n`;
}
