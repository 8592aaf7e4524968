/**
 * What a service's cgroup says about its container: the processes in it and what they use. A
 * unit's cgroup (systemd's ControlGroup) and the runtime's `payload` cgroup under it are found
 * wherever this host mounts them: cgroup2 at /sys/fs/cgroup or /sys/fs/cgroup/unified (hybrid),
 * and cgroup v1's per-controller hierarchies. Reads only; parsing is pure and exported for tests.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const CG = "/sys/fs/cgroup";

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

/** The cgroup2 mount: /sys/fs/cgroup itself (unified), or /sys/fs/cgroup/unified (hybrid). */
export function cgroup2Root(root = CG): string | undefined {
  if (existsSync(join(root, "cgroup.controllers"))) return root;
  if (existsSync(join(root, "unified", "cgroup.controllers"))) return join(root, "unified");
  return undefined;
}

/** Every pid in a cgroup directory and the ones below it. */
function procsUnder(dir: string, out: Set<number>): void {
  for (const l of (read(join(dir, "cgroup.procs")) ?? "").split("\n"))
    if (/^\d+$/.test(l)) out.add(Number(l));
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return;
  }
  for (const e of entries) procsUnder(join(dir, e), out);
}

/** The processes of a unit's cgroup (ControlGroup), in every hierarchy that has it. */
export function cgroupPids(controlGroup: string, root = CG): number[] {
  const out = new Set<number>();
  const v2 = cgroup2Root(root);
  for (const base of [v2, join(root, "systemd"), join(root, "pids")])
    if (base && existsSync(join(base, controlGroup))) procsUnder(join(base, controlGroup), out);
  return [...out].sort((a, b) => a - b);
}

/** One process as `top` shows it, from /proc/PID/status, its uid map and its cmdline. */
export interface ProcessRow {
  readonly pid: number;
  /** Its pid inside the container's pid namespace (NSpid's last field). */
  readonly containerPid: number;
  readonly hostUid: number;
  /** The uid the container sees (through the user namespace's uid_map, if any). */
  readonly uid: number;
  readonly command: string;
}

/** `NSpid:` and the real `Uid:` of /proc/PID/status. Pure. */
export function parseStatus(text: string): { nspid: number[]; uid: number } | undefined {
  const ns = /^NSpid:\s+(.*)$/m.exec(text)?.[1];
  const uid = /^Uid:\s+(\d+)/m.exec(text)?.[1];
  if (ns === undefined || uid === undefined) return undefined;
  return { nspid: ns.trim().split(/\s+/).map(Number), uid: Number(uid) };
}

/** A host uid as the namespace of `uid_map` (inside outside count lines) sees it. Pure. */
export function insideUid(uidMap: string, hostUid: number): number | undefined {
  for (const l of uidMap.split("\n")) {
    const [inside, outside, count] = l.trim().split(/\s+/).map(Number);
    if (inside === undefined || outside === undefined || count === undefined) continue;
    if (hostUid >= outside && hostUid < outside + count) return inside + (hostUid - outside);
  }
  return undefined;
}

/** The processes of a unit's cgroup, with host and container pids and uids. */
export function processRows(controlGroup: string, root = CG): ProcessRow[] {
  const rows: ProcessRow[] = [];
  for (const pid of cgroupPids(controlGroup, root)) {
    const st = parseStatus(read(`/proc/${pid}/status`) ?? "");
    if (!st) continue; // gone meanwhile
    const cmd = (read(`/proc/${pid}/cmdline`) ?? "").split("\0").filter(Boolean).join(" ");
    rows.push({
      pid,
      containerPid: st.nspid[st.nspid.length - 1] ?? pid,
      hostUid: st.uid,
      uid: insideUid(read(`/proc/${pid}/uid_map`) ?? "", st.uid) ?? st.uid,
      command: cmd || `[${/^Name:\s+(.*)$/m.exec(read(`/proc/${pid}/status`) ?? "")?.[1] ?? "?"}]`,
    });
  }
  return rows;
}
