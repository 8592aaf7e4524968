import { posix } from "node:path";
import type { PlanEntry } from "../closure/index.js";
import type { ResolvedContainer } from "../config/types.js";
import { BuildError } from "../errors.js";

/** A rootfs entry: from the host closure, or a small file railyard generates. */
export type RootfsEntry =
  PlanEntry | { readonly kind: "data"; readonly content: string; readonly mode: number };

/** Absolute rootfs path -> entry, sorted by path so that parents come before children. */
export type RootfsPlan = ReadonlyMap<string, RootfsEntry>;

export interface RootfsInputs {
  /** The host's /etc/resolv.conf, copied for network "host". */
  readonly hostResolvConf: string | undefined;
  /** For each bind mount destination: is the source a file (else a directory)? */
  readonly fileMounts: ReadonlySet<string>;
}

/** Directories every rootfs has: the runtime's mount points and the generated /etc. */
const BASE_DIRS = ["/proc", "/dev", "/sys", "/etc"];

export function etcFiles(
  c: ResolvedContainer,
  hostResolvConf: string | undefined,
): Record<string, string> {
  const u = c.user;
  const passwd = ["root:x:0:0:root:/root:/bin/sh"];
  if (u.uid !== 0) passwd.push(`${u.name}:x:${u.uid}:${u.gid}:${u.name}:/:/bin/sh`);
  const group = ["root:x:0:"];
  if (u.gid !== 0) group.push(`${u.group}:x:${u.gid}:`);
  return {
    "/etc/passwd": passwd.join("\n") + "\n",
    "/etc/group": group.join("\n") + "\n",
    "/etc/hosts": `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${c.hostname}\n`,
    "/etc/hostname": `${c.hostname}\n`,
    "/etc/resolv.conf":
      c.network === "host" && hostResolvConf !== undefined
        ? hostResolvConf
        : `# written by railyard: network "${c.network}" has no DNS\n`,
    "/etc/nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n",
  };
}

/**
 * The full rootfs of a host-program container: the closure, the mount points, and a minimal /etc
 * with the container's user. Pure.
 */
export function planRootfs(
  c: ResolvedContainer,
  closure: ReadonlyMap<string, PlanEntry>,
  inputs: RootfsInputs,
): RootfsPlan {
  const plan = new Map<string, RootfsEntry>(closure);
  plan.set("/", { kind: "dir", mode: 0o755 });
  const dirs = [...BASE_DIRS, ...(c.user.uid === 0 ? ["/root"] : []), c.workdir];
  for (const d of dirs) ensureDir(plan, d, c.name);
  for (const [path, content] of Object.entries(etcFiles(c, inputs.hostResolvConf))) {
    const real = ensureDir(plan, "/etc", c.name);
    plan.set(`${real}/${posix.basename(path)}`, { kind: "data", content, mode: 0o644 });
  }
  for (const m of c.mounts) {
    if (inputs.fileMounts.has(m.destination)) {
      const parent = ensureDir(plan, posix.dirname(m.destination), c.name);
      const at = `${parent === "/" ? "" : parent}/${posix.basename(m.destination)}`;
      const existing = plan.get(at);
      if (existing === undefined || existing.kind === "dir")
        plan.set(at, { kind: "data", content: "", mode: 0o644 });
    } else ensureDir(plan, m.destination, c.name);
  }
  return new Map([...plan].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Make `dir` a directory in the plan, creating missing parents. Symlinks already in the plan are
 * followed the way the runtime will follow them inside the container: never above the root.
 * Returns the real path of the directory inside the rootfs.
 */
export function ensureDir(
  plan: Map<string, RootfsEntry>,
  dir: string,
  container: string,
  depth = 0,
): string {
  if (depth > 40)
    throw new BuildError(`${dir}: too many levels of symbolic links in the rootfs`, container);
  const segs = posix.normalize(dir).split("/").filter(Boolean);
  let cur = "";
  for (let i = 0; i < segs.length; i++) {
    const next = `${cur}/${segs[i]}`;
    const e = plan.get(next);
    if (e === undefined) plan.set(next, { kind: "dir", mode: 0o755 });
    else if (e.kind === "symlink") {
      // Lexical resolution, clamped at "/" exactly like a chroot.
      const target = posix.resolve(cur || "/", e.target);
      const rest = segs.slice(i + 1).join("/");
      return ensureDir(plan, rest ? `${target}/${rest}` : target, container, depth + 1);
    } else if (e.kind !== "dir")
      throw new BuildError(
        `${dir}: ${next} is a file in the rootfs, so it cannot hold a mount point or directory`,
        container,
      );
    cur = next;
  }
  return cur || "/";
}
