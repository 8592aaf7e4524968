/**
 * The host's facts a build plans with, read once per command (per generation, not per
 * container): the open-files limit, the system accounts a host program's /etc names, and the
 * resolv.conf files a container's is made from. Planning takes them as a value.
 */
import { posix } from "node:path";
import { readText } from "../util/read-file.js";

export interface HostFacts {
  /** RLIMIT_NOFILE's hard limit: no container gets more. */
  readonly nofileHard: number;
  /** /etc/passwd and /etc/group, as text. */
  readonly accounts: { readonly passwd: string; readonly group: string };
  /** /etc/resolv.conf, and systemd-resolved's upstream one, where they exist. */
  readonly resolvConf: string | undefined;
  readonly resolvedConf: string | undefined;
}

/** The hard limit of RLIMIT_NOFILE, parsed from /proc/self/limits text. Pure. */
export function parseNofileHard(limitsText: string): number {
  const line = limitsText.split("\n").find((l) => l.startsWith("Max open files"));
  const hard = line?.trim().split(/\s+/)[4];
  return hard === undefined || hard === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(hard);
}

/** Read the facts from the host (or a filesystem root, for accounts). */
export function readHostFacts(root = "/"): HostFacts {
  const limits = readText("/proc/self/limits");
  return {
    nofileHard: limits === undefined ? 1024 : parseNofileHard(limits),
    accounts: {
      passwd: readText(posix.join(root, "etc/passwd")) ?? "",
      group: readText(posix.join(root, "etc/group")) ?? "",
    },
    resolvConf: readText("/etc/resolv.conf"),
    resolvedConf: readText("/run/systemd/resolve/resolv.conf"),
  };
}
