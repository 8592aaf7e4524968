/**
 * The host's facts a build plans with, read once per command (per generation, not per
 * container): the hard rlimits, the system accounts a host program's /etc names, and the
 * resolv.conf files a container's is made from. Planning takes them as a value.
 */
import { posix } from "node:path";
import { readText } from "../util/read-file.js";

export interface HostFacts {
  /**
   * The hard limits railyard runs under, by compose's ulimit name (`nofile`), -1 for unlimited:
   * no container gets more.
   */
  readonly hardLimits: Readonly<Record<string, number>>;
  /** /etc/passwd and /etc/group, as text. */
  readonly accounts: { readonly passwd: string; readonly group: string };
  /** /etc/resolv.conf, and systemd-resolved's upstream one, where they exist. */
  readonly resolvConf: string | undefined;
  readonly resolvedConf: string | undefined;
}

/** /proc/self/limits' rows, by compose's ulimit name. */
const LIMIT_ROWS: Readonly<Record<string, string>> = {
  "Max cpu time": "cpu",
  "Max file size": "fsize",
  "Max data size": "data",
  "Max stack size": "stack",
  "Max core file size": "core",
  "Max resident set": "rss",
  "Max processes": "nproc",
  "Max open files": "nofile",
  "Max locked memory": "memlock",
  "Max address space": "as",
  "Max file locks": "locks",
  "Max pending signals": "sigpending",
  "Max msgqueue size": "msgqueue",
  "Max nice priority": "nice",
  "Max realtime priority": "rtprio",
  "Max realtime timeout": "rttime",
};

/** The hard limits in /proc/self/limits text, by compose's ulimit name, -1 for unlimited. Pure. */
export function parseHardLimits(limitsText: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of limitsText.split("\n")) {
    const row = Object.keys(LIMIT_ROWS).find((r) => line.startsWith(`${r} `));
    if (row === undefined) continue;
    const hard = line.slice(row.length).trim().split(/\s+/)[1];
    if (hard === "unlimited") out[LIMIT_ROWS[row] as string] = -1;
    else if (hard !== undefined && /^\d+$/.test(hard))
      out[LIMIT_ROWS[row] as string] = Number(hard);
  }
  return out;
}

/** Read the facts from the host (or a filesystem root, for accounts). */
export function readHostFacts(root = "/"): HostFacts {
  const limits = readText("/proc/self/limits");
  return {
    hardLimits: limits === undefined ? { nofile: 1024 } : parseHardLimits(limits),
    accounts: {
      passwd: readText(posix.join(root, "etc/passwd")) ?? "",
      group: readText(posix.join(root, "etc/group")) ?? "",
    },
    resolvConf: readText("/etc/resolv.conf"),
    resolvedConf: readText("/run/systemd/resolve/resolv.conf"),
  };
}
