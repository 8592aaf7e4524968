import { posix } from "node:path";
import type { PlanEntry } from "../closure/index.js";
import type { ResolvedContainer, ResolvedMount } from "../model/types.js";
import { BuildError } from "../errors.js";
import { tmpfsMode } from "../model/parse.js";
import type { ProcessInfo } from "./process.js";

/** A rootfs entry: from the host closure, or a small file railyard generates. */
export type RootfsEntry =
  PlanEntry | { readonly kind: "data"; readonly content: string; readonly mode: number };

export interface RootfsPlan {
  /** An unpacked image to hardlink wholesale first; `entries` are laid over it. `id` names its content. */
  readonly base?: { readonly dir: string; readonly id: string };
  /** Absolute rootfs path -> entry, sorted by path so that parents come before children. */
  readonly entries: ReadonlyMap<string, RootfsEntry>;
}

export interface RootfsInputs {
  /**
   * The container's resolv.conf: the host's for network "host", the host's usable nameservers
   * for a network of its own (`privateResolvConf`). Unset means no DNS.
   */
  readonly resolvConf: string | undefined;
  /** Lines added to /etc/hosts (`extraHosts`, addresses resolved). @default none */
  readonly extraHosts?: readonly string[];
  /** Bind-mount destinations whose source is a file (they need a file mount point). */
  readonly fileMounts: ReadonlySet<string>;
  /** Looks up a path in the base image (not following the last component), if there is one. */
  readonly baseLookup?: (path: string) => RootfsEntry | undefined;
  /** A host program's system accounts come from the host's user database. */
  readonly hostAccounts?: HostAccounts;
  /**
   * A host program's /etc/host.conf, when it needs one: on a dual-stack network, "multi on" (as
   * Debian's own), without which glibc gives a name in /etc/hosts only its first (IPv4) address.
   */
  readonly hostConf?: string;
}

/** Directories every rootfs has: the runtime's mount points and /etc. */
const BASE_DIRS = ["/proc", "/dev", "/sys", "/etc"];

/** Files every container gets, image or not: its name and its view of the network. */
export function networkFiles(
  c: ResolvedContainer,
  resolvConf: string | undefined,
  extraHosts: readonly string[] = [],
): Record<string, string> {
  const hosts = [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    `127.0.1.1\t${c.hostname}`,
    ...extraHosts,
  ];
  return {
    "/etc/hosts": `${hosts.join("\n")}\n`,
    "/etc/hostname": `${c.hostname}\n`,
    "/etc/resolv.conf":
      c.network !== "none" && resolvConf !== undefined
        ? resolvConf
        : `# written by railyard: network "${c.network}" has no DNS\n`,
  };
}

/** The host's user database, as /etc/passwd and /etc/group read it (never shadow). */
export interface HostAccounts {
  readonly passwd: string;
  readonly group: string;
}

/** Below this, and `nobody`/`nogroup`, an id is a system account (Debian's SYS_UID_MAX + 1). */
const FIRST_REGULAR_ID = 1000;
const NOBODY_ID = 65534;

const isSystemId = (id: number) => id < FIRST_REGULAR_ID || id === NOBODY_ID;

/**
 * The host's system accounts (ids below 1000, nobody, nogroup), so that a host nginx or postgres
 * finds `www-data` or `postgres`. People's accounts are left out, every password field is "x",
 * and a group keeps only members that are themselves system accounts. Pure.
 */
export function systemAccounts(host: HostAccounts): { passwd: string[]; group: string[] } {
  const fields = (text: string, n: number) =>
    text
      .split("\n")
      .map((l) => l.split(":"))
      .filter((f) => f.length === n && /^\d+$/.test(f[2] ?? "") && isSystemId(Number(f[2])));
  const users = fields(host.passwd, 7).map(([name = "", , uid, gid, gecos, home, shell]) =>
    [name, "x", uid, gid, gecos, home, shell].join(":"),
  );
  const names = new Set(users.map((l) => l.split(":")[0]));
  const groups = fields(host.group, 4).map(([name = "", , gid, members = ""]) =>
    [
      name,
      "x",
      gid,
      members
        .split(",")
        .filter((m) => names.has(m))
        .join(","),
    ].join(":"),
  );
  return { passwd: users, group: groups };
}

/**
 * The user database of a host-program rootfs (images keep their own): root, the host's system
 * accounts when given, and the container's user.
 */
export function userFiles(p: ProcessInfo, host?: HostAccounts): Record<string, string> {
  const u = p.user;
  const system = host ? systemAccounts(host) : { passwd: [], group: [] };
  const idOf = (line: string) => Number(line.split(":")[2]);
  const passwd = [
    "root:x:0:0:root:/root:/bin/sh",
    ...system.passwd.filter((l) => idOf(l) !== 0 && idOf(l) !== u.uid),
  ];
  if (u.uid !== 0) passwd.push(`${u.name}:x:${u.uid}:${u.gid}:${u.name}:${p.home}:/bin/sh`);
  const group = ["root:x:0:", ...system.group.filter((l) => idOf(l) !== 0 && idOf(l) !== u.gid)];
  if (u.gid !== 0) group.push(`${u.group}:x:${u.gid}:`);
  return {
    "/etc/passwd": passwd.join("\n") + "\n",
    "/etc/group": group.join("\n") + "\n",
    "/etc/nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n",
  };
}

/**
 * The full rootfs: the closure (or the image, as `base`), the mount points, and /etc files for
 * the container's name, network and (for host programs) its user. Pure but for `baseLookup`
 * (bundle/host's dirLookup reads the image's tree on demand).
 */
export function planRootfs(
  c: ResolvedContainer,
  p: ProcessInfo,
  closure: ReadonlyMap<string, PlanEntry>,
  inputs: RootfsInputs,
  base?: RootfsPlan["base"],
  extraMounts: readonly ResolvedMount[] = [],
): RootfsPlan {
  const plan = new Map<string, RootfsEntry>(closure);
  const at = (path: string) => ensureDir(plan, path, c.name, inputs.baseLookup);
  if (!base) plan.set("/", { kind: "dir", mode: 0o755 });
  for (const d of [...BASE_DIRS, ...(!base && p.user.uid === 0 ? ["/root"] : []), p.cwd]) at(d);
  const files = {
    ...networkFiles(c, inputs.resolvConf, inputs.extraHosts),
    ...(base ? {} : userFiles(p, inputs.hostAccounts)),
    ...(base || inputs.hostConf === undefined ? {} : { "/etc/host.conf": inputs.hostConf }),
  };
  for (const [path, content] of Object.entries(files)) {
    const real = at("/etc");
    plan.set(`${real === "/" ? "" : real}/${posix.basename(path)}`, {
      kind: "data",
      content,
      mode: 0o644,
    });
  }
  for (const m of [...c.mounts, ...extraMounts]) {
    if (inputs.fileMounts.has(m.destination)) {
      const parent = at(posix.dirname(m.destination));
      const dest = `${parent === "/" ? "" : parent}/${posix.basename(m.destination)}`;
      const existing = plan.get(dest) ?? inputs.baseLookup?.(dest);
      if (existing === undefined || existing.kind === "dir")
        plan.set(dest, { kind: "data", content: "", mode: 0o644 });
    } else {
      const real = at(m.destination);
      // runc gives a tmpfs its mount point's mode, whatever `mode=` says: set the mount point's.
      if (m.type === "tmpfs") plan.set(real, { kind: "dir", mode: tmpfsMode(m.options) });
    }
  }
  return {
    ...(base ? { base } : {}),
    entries: new Map([...plan].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  };
}

/**
 * Make `dir` a directory in the plan, creating missing parents. Symlinks (in the plan or the
 * base image) are followed the way the runtime will follow them inside the container: never
 * above the root. Returns the real path of the directory inside the rootfs.
 */
export function ensureDir(
  plan: Map<string, RootfsEntry>,
  dir: string,
  container: string,
  baseLookup?: (path: string) => RootfsEntry | undefined,
  depth = 0,
): string {
  if (depth > 40)
    throw new BuildError(`${dir}: too many levels of symbolic links in the rootfs`, container);
  const segs = posix.normalize(dir).split("/").filter(Boolean);
  let cur = "";
  for (let i = 0; i < segs.length; i++) {
    const next = `${cur}/${segs[i]}`;
    const e = plan.get(next) ?? baseLookup?.(next);
    if (e === undefined) plan.set(next, { kind: "dir", mode: 0o755 });
    else if (e.kind === "symlink") {
      // Lexical resolution, clamped at "/" exactly like a chroot.
      const target = posix.resolve(cur || "/", e.target);
      const rest = segs.slice(i + 1).join("/");
      return ensureDir(plan, rest ? `${target}/${rest}` : target, container, baseLookup, depth + 1);
    } else if (e.kind !== "dir")
      throw new BuildError(
        `${dir}: ${next} is a file in the rootfs, so it cannot hold a mount point or directory`,
        container,
      );
    cur = next;
  }
  return cur || "/";
}
