/**
 * Rootless mode (`railyard --user`), the pure part: what changes when railyard runs as a
 * non-root user under that user's systemd manager. Containers get a user namespace (container
 * root is the user, ids 1..N are the user's subordinate range), the runtime keeps its state under
 * $XDG_RUNTIME_DIR, units go to the user manager, and the payload cgroup sits under user@UID.
 */
import { basename } from "node:path";
import type { IdRange, ResolvedConfig, ResolvedContainer, RootlessScope } from "../model/types.js";
import type { ConfigProblem } from "../errors.js";
import { isPrivateOrNamed, joinedOwner } from "../model/network.js";

/** Ids a rootless container maps besides root: 65536 covers every uid an image may use (nobody is 65534). */
export const SUBID_RANGE = 65536;

/** A user's ranges in /etc/subuid or /etc/subgid text ("name-or-uid:start:count" lines). */
export function subordinateRanges(text: string, name: string, uid: number): IdRange[] {
  const out: IdRange[] = [];
  for (const line of text.split("\n")) {
    const [who, start, count] = line.trim().split(":");
    if (who !== name && who !== String(uid)) continue;
    const s = Number(start);
    const n = Number(count);
    if (Number.isInteger(s) && Number.isInteger(n) && s > 0 && n > 0)
      out.push({ start: s, count: n });
  }
  return out;
}

/** The range a rootless container maps: the first with SUBID_RANGE ids, else the largest. */
export function chooseRange(ranges: readonly IdRange[]): IdRange | undefined {
  return (
    ranges.find((r) => r.count >= SUBID_RANGE) ?? [...ranges].sort((a, b) => b.count - a.count)[0]
  );
}

export interface OciIdMapping {
  readonly containerID: number;
  readonly hostID: number;
  readonly size: number;
}

/** Container id 0 is the user (and its group); 1..count are the subordinate range. */
export function idMappings(scope: RootlessScope): {
  uidMappings: OciIdMapping[];
  gidMappings: OciIdMapping[];
} {
  const map = (own: number, r: IdRange): OciIdMapping[] => [
    { containerID: 0, hostID: own, size: 1 },
    { containerID: 1, hostID: r.start, size: r.count },
  ];
  return { uidMappings: map(scope.uid, scope.subuid), gidMappings: map(scope.gid, scope.subgid) };
}

/** The host id a container id is stored as on disk (what `ls -n` shows outside). */
export function hostIdOf(containerId: number, own: number, r: IdRange): number | undefined {
  if (containerId === 0) return own;
  return containerId <= r.count ? r.start + containerId - 1 : undefined;
}

/** Where railyard's runtime files (PID files, health results) live. */
export const runDir = (scope?: RootlessScope): string =>
  scope ? `${scope.runtimeDir}/railyard` : "/run/railyard";

/**
 * `unshare` flags that map the user to 0 and its subordinate range to 1..count (through the
 * setuid newuidmap/newgidmap): in there, a rootless user can give files to container ids.
 */
export const mappedUnshareArgs = (scope: RootlessScope): string[] => [
  `--map-users=${scope.subuid.start},1,${scope.subuid.count}`,
  `--map-groups=${scope.subgid.start},1,${scope.subgid.count}`,
  "--map-root-user",
];

/** The OCI runtime's state root: its default for root (/run/runc), under $XDG_RUNTIME_DIR else. */
export const runtimeRoot = (runtimePath: string, scope?: RootlessScope): string =>
  `${scope ? scope.runtimeDir : "/run"}/${basename(runtimePath)}`;

/**
 * Global runtime flags. Rootless, the root is always given, so that the unit (whose environment
 * may lack XDG_RUNTIME_DIR) and the CLI see the same containers.
 */
export const runtimeGlobalArgs = (runtimePath: string, scope?: RootlessScope): string[] =>
  scope ? ["--root", runtimeRoot(runtimePath, scope)] : [];

/** The cgroup a unit's container joins: a sub-cgroup of the service's delegated cgroup. */
export const payloadCgroup = (c: ResolvedContainer, scope?: RootlessScope): string =>
  scope
    ? `/user.slice/user-${scope.uid}.slice/user@${scope.uid}.service/app.slice/${c.serviceName}/payload`
    : `/system.slice/${c.serviceName}/payload`;

/** The target that starts enabled services at boot. */
export const bootTarget = (scope?: RootlessScope): string =>
  scope ? "default.target" : "multi-user.target";

/** systemctl's flags for the manager that runs the services. */
export const managerFlags = (scope?: RootlessScope): string[] => (scope ? ["--user"] : []);

/**
 * What a rootless scope cannot run, as config problems: the docker/podman backends, networks
 * that need root (veth links, nftables) and ids outside the mapped range.
 */
export function rootlessProblems(config: ResolvedConfig, scope: RootlessScope): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = (c: ResolvedContainer, key: string) => `containers.${c.name}.${key}`;
  for (const c of Object.values(config.containers)) {
    if (c.backend !== "oci")
      problems.push({
        path: at(c, "backend"),
        message: `railyard --user runs containers with the OCI runtime only, not ${c.backend}. use backend "oci"`,
      });
    // Network "private" is pasta's (rootless/pasta.ts); a bridge between containers needs root.
    if (isPrivateOrNamed(c) && c.network !== "private")
      problems.push({
        path: at(c, c.networks.length > 1 ? "networks" : "network"),
        message: `named networks need root (a bridge, veth links, nftables). rootless containers use "private" (with pasta), "host" or "none"`,
      });
    else if (c.network === "private" && c.extraHosts?.some((h) => h.address === "host-gateway"))
      problems.push({
        path: at(c, "extraHosts"),
        message: `"host-gateway" is not reachable from a rootless container on network "private": pasta keeps its gateway address from the host's own services. use network "host", or the host's LAN address`,
      });
    else if (joinedOwner(c) !== undefined)
      problems.push({
        path: at(c, "network"),
        message: `joining another container's network namespace needs root for now. rootless containers use "private" (with pasta), "host" or "none"`,
      });
    c.secrets.forEach((s, i) => {
      if (config.secrets[s.source]?.encrypted !== undefined)
        problems.push({
          path: at(c, `secrets[${i}]`),
          message: `secret ${JSON.stringify(s.source)} is encrypted with the host's key, which a user's systemd (before 256) cannot use. give it as a file only you can read (chmod 0600), or run it as root`,
        });
      for (const [kind, id, r] of [
        ["uid", s.uid, scope.subuid],
        ["gid", s.gid, scope.subgid],
      ] as const)
        if (id > r.count)
          problems.push({
            path: at(c, `secrets[${i}].${kind}`),
            message: `${id} is outside the ids a rootless container maps (0-${r.count}). use an id up to ${r.count}`,
          });
    });
    if (c.user) {
      for (const [kind, id, own, r] of [
        ["uid", c.user.uid, scope.uid, scope.subuid],
        ["gid", c.user.gid, scope.gid, scope.subgid],
      ] as const)
        if (hostIdOf(id, own, r) === undefined)
          problems.push({
            path: at(c, "user"),
            message: `${kind} ${id} is outside the ids a rootless container maps (0-${r.count}, from /etc/sub${kind}). use an id up to ${r.count}, or give ${scope.user} a larger range`,
          });
    }
  }
  return problems;
}
