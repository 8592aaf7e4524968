/**
 * What a service's cgroup says about its container: the processes in it and what they use. A
 * unit's cgroup (systemd's ControlGroup) and the runtime's `payload` cgroup under it are found
 * wherever this host mounts them: cgroup2 at /sys/fs/cgroup or /sys/fs/cgroup/unified (hybrid),
 * and cgroup v1's per-controller hierarchies. Reads only; parsing is pure and exported for tests.
 */
import { readText } from "../util/read-file.js";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const CG = "/sys/fs/cgroup";

/** The cgroup2 mount: /sys/fs/cgroup itself (unified), or /sys/fs/cgroup/unified (hybrid). */
export function cgroup2Root(root = CG): string | undefined {
  if (existsSync(join(root, "cgroup.controllers"))) return root;
  if (existsSync(join(root, "unified", "cgroup.controllers"))) return join(root, "unified");
  return undefined;
}

/** Every pid in a cgroup directory and the ones below it. */
function procsUnder(dir: string, out: Set<number>): void {
  for (const l of (readText(join(dir, "cgroup.procs")) ?? "").split("\n"))
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
    const status = readText(`/proc/${pid}/status`) ?? "";
    const st = parseStatus(status);
    if (!st) continue; // gone meanwhile
    const cmd = (readText(`/proc/${pid}/cmdline`) ?? "").split("\0").filter(Boolean).join(" ");
    rows.push({
      pid,
      containerPid: st.nspid[st.nspid.length - 1] ?? pid,
      hostUid: st.uid,
      uid: insideUid(readText(`/proc/${pid}/uid_map`) ?? "", st.uid) ?? st.uid,
      command: cmd || `[${/^Name:\s+(.*)$/m.exec(status)?.[1] ?? "?"}]`,
    });
  }
  return rows;
}

/** What a unit's cgroup has used: undefined where this host keeps no such figure for it. */
export interface CgroupUsage {
  /** CPU time, nanoseconds, since the cgroup was made. */
  readonly cpuNs?: number;
  /** Memory in use, and the limit (undefined: none). */
  readonly memory?: { readonly current: number; readonly max?: number };
  /** Tasks (processes and threads). */
  readonly pids?: number;
  /** Bytes read from and written to block devices. */
  readonly io?: { readonly read: number; readonly write: number };
}

const num = (s: string | undefined): number | undefined =>
  s !== undefined && /^\d+$/.test(s.trim()) ? Number(s.trim()) : undefined;

/** `key value` lines (cpu.stat, memory.stat) into numbers. Pure. */
export function keyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of text.split("\n")) {
    const [k, v] = l.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** cgroup2's io.stat (`MAJ:MIN rbytes=N wbytes=N ...` per device), summed. Pure. */
export function parseIoStat(text: string): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const m of text.matchAll(/\brbytes=(\d+)/g)) read += Number(m[1]);
  for (const m of text.matchAll(/\bwbytes=(\d+)/g)) write += Number(m[1]);
  return { read, write };
}

/** cgroup v1's blkio.throttle.io_service_bytes (`MAJ:MIN Read N` lines), summed. Pure. */
export function parseBlkio(text: string): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const m of text.matchAll(/^\d+:\d+ (Read|Write) (\d+)$/gm))
    if (m[1] === "Read") read += Number(m[2]);
    else write += Number(m[2]);
  return { read, write };
}

/** A unit's usage from cgroup2 where it has the controller, else from cgroup v1's hierarchy. */
export function cgroupUsage(controlGroup: string, root = CG): CgroupUsage {
  const v2 = cgroup2Root(root);
  const at2 = (f: string) => (v2 ? readText(join(v2, controlGroup, f)) : undefined);
  const at1 = (ctl: string, f: string) => readText(join(root, ctl, controlGroup, f));
  const usage: {
    cpuNs?: number;
    memory?: { current: number; max?: number };
    pids?: number;
    io?: { read: number; write: number };
  } = {};
  const cpu2 = keyValues(at2("cpu.stat") ?? "")["usage_usec"];
  const cpu1 = num(at1("cpuacct", "cpuacct.usage") ?? at1("cpu,cpuacct", "cpuacct.usage"));
  if (cpu2 !== undefined) usage.cpuNs = cpu2 * 1000;
  else if (cpu1 !== undefined) usage.cpuNs = cpu1;
  const mem2 = num(at2("memory.current"));
  if (mem2 !== undefined) {
    const max = num(at2("memory.max"));
    usage.memory = { current: mem2, ...(max !== undefined ? { max } : {}) };
  } else {
    const mem1 = num(at1("memory", "memory.usage_in_bytes"));
    // v1 writes "no limit" as a page-rounded LONG_MAX.
    const max = num(at1("memory", "memory.limit_in_bytes"));
    if (mem1 !== undefined)
      usage.memory = {
        current: mem1,
        ...(max !== undefined && max < 2 ** 62 ? { max } : {}),
      };
  }
  const pids = num(at2("pids.current")) ?? num(at1("pids", "pids.current"));
  if (pids !== undefined) usage.pids = pids;
  const io2 = at2("io.stat");
  const io1 = at1("blkio", "blkio.throttle.io_service_bytes");
  if (io2 !== undefined) usage.io = parseIoStat(io2);
  else if (io1 !== undefined) usage.io = parseBlkio(io1);
  return usage;
}

/** Bytes received and sent on every interface but loopback in PID's network namespace. Pure. */
export function parseNetDev(text: string): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const l of text.split("\n").slice(2)) {
    const [iface, rest] = l.split(":");
    if (!iface || rest === undefined || iface.trim() === "lo") continue;
    const f = rest.trim().split(/\s+/).map(Number);
    rx += f[0] ?? 0;
    tx += f[8] ?? 0;
  }
  return { rx, tx };
}

/** The network traffic of a process's network namespace (undefined: it has gone). */
export function netIO(pid: number): { rx: number; tx: number } | undefined {
  const text = readText(`/proc/${pid}/net/dev`);
  return text === undefined ? undefined : parseNetDev(text);
}
