/** The limits a container may set: namespaced sysctls and resources, within what the kernel takes. */
import type { Report } from "./context.js";
import { parseSize } from "../../model/parse.js";
import type { ContainerConfig } from "../../model/types.js";
import { joinedOwner } from "../../model/network.js";
import { MAX_NOFILE, ULIMITS } from "../../model/ulimits.js";

/** Limits systemd and runc take as meant (beyond them they mean nothing, or no limit). */
export const MIN_MEMORY = 6 * 1024 ** 2;
export const MAX_MEMORY = 8192 * 1024 ** 4;
/** The kernel's largest pid_max (PID_MAX_LIMIT on 64-bit). */
export const MAX_PIDS = 4_194_304;

/** Kernel parameters a container may set: those namespaced per container, as runc allows. */
export const NAMESPACED_SYSCTL = /^(net\.|kernel\.shm|kernel\.msg|kernel\.sem$|fs\.mqueue\.)/;

export function resolveSysctls(
  given: Readonly<Record<string, string | number>>,
  network: string,
  r: Report,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, raw] of Object.entries(given).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const value = String(raw);
    if (!/^[a-z0-9_]+(\.[a-z0-9_-]+)+$/.test(k))
      r(
        ["sysctls", k],
        `is not a kernel parameter name. expected dotted words, e.g. "net.core.somaxconn"`,
      );
    else if (!NAMESPACED_SYSCTL.test(k))
      r(
        ["sysctls", k],
        `is not namespaced, so it would change the whole host. expected net.*, kernel.shm*, kernel.msg*, kernel.sem or fs.mqueue.*`,
      );
    else if (k.startsWith("net.") && network === "host")
      r(["sysctls", k], `would change the host's network: the container is on network "host"`);
    else if (k.startsWith("net.") && joinedOwner({ network }) !== undefined)
      r(
        ["sysctls", k],
        `would change ${joinedOwner({ network })}'s network, which this container joins: set it there`,
      );
    else if (value === "" || /[\0\n]/.test(value))
      r(["sysctls", k], `must be a value on one line, e.g. "1024"`);
    else out[k] = value;
  }
  return out;
}

/** Memory, CPUs and processes, within what systemd and the kernel take as meant. */
export function resolveResources(
  c: ContainerConfig,
  r: Report,
): { memory?: number; cpus?: number; pids?: number } {
  const resources: { memory?: number; cpus?: number; pids?: number } = {};
  // Out-of-range limits are refused: systemd would read them as no limit at all.
  if (c.resources?.memory !== undefined) {
    const p = parseSize(c.resources.memory);
    if (!p.ok) r(["resources", "memory"], p.error);
    else if (p.value < MIN_MEMORY || p.value > MAX_MEMORY)
      r(
        ["resources", "memory"],
        `${JSON.stringify(c.resources.memory)} is out of range. expected from "6m" (the least runc allows) to "8192t"`,
      );
    else resources.memory = p.value;
  }
  const cpus = c.resources?.cpus;
  if (cpus !== undefined) {
    if (!(cpus >= 0.01 && cpus <= 1024))
      r(
        ["resources", "cpus"],
        `${cpus} is out of range. expected from 0.01 (systemd's CPUQuota=1%) to 1024 cores`,
      );
    else resources.cpus = cpus;
  }
  const pids = c.resources?.pids;
  if (pids !== undefined) {
    if (pids > MAX_PIDS)
      r(
        ["resources", "pids"],
        `${pids} is more than Linux allows (${MAX_PIDS}). expected 1 to ${MAX_PIDS}`,
      );
    else resources.pids = pids;
  }
  return resources;
}

/** /dev/shm's size: bytes, at least a page and at most what memory limits take as meant. */
export function resolveShmSize(c: ContainerConfig, r: Report): number | undefined {
  if (c.shmSize === undefined) return undefined;
  const p = parseSize(c.shmSize);
  if (!p.ok) return void r(["shmSize"], `${p.error} (the size of /dev/shm)`);
  if (p.value < 4096 || p.value > MAX_MEMORY)
    return void r(
      ["shmSize"],
      `${JSON.stringify(c.shmSize)} is out of range. expected from "4k" to "8192t"`,
    );
  return p.value;
}

/** `ulimits`: known names, whole numbers (or unlimited), soft at most hard. -1 is unlimited. */
export function resolveUlimits(
  c: ContainerConfig,
  r: Report,
): Record<string, { soft: number; hard: number }> | undefined {
  if (c.ulimits === undefined) return undefined;
  const out: Record<string, { soft: number; hard: number }> = {};
  for (const [name, given] of Object.entries(c.ulimits).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (ULIMITS[name] === undefined) {
      r(["ulimits", name], `is not a limit. expected one of ${Object.keys(ULIMITS).join(", ")}`);
      continue;
    }
    const value = (v: unknown, path: (string | number)[]): number | undefined => {
      if (v === -1 || v === "unlimited") {
        if (name !== "nofile") return -1;
        return void r(path, `nofile cannot be unlimited. expected a number up to ${MAX_NOFILE}`);
      }
      const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
      if (typeof n === "number" && Number.isSafeInteger(n) && n >= 0)
        return name === "nofile" && n > MAX_NOFILE
          ? void r(path, `${n} is more than Linux allows (${MAX_NOFILE})`)
          : n;
      return void r(
        path,
        `${JSON.stringify(v)} is not a limit. expected a whole number${name === "nofile" ? "" : ', or -1 or "unlimited"'}`,
      );
    };
    const pair =
      typeof given === "object"
        ? {
            soft: value(given.soft, ["ulimits", name, "soft"]),
            hard: value(given.hard, ["ulimits", name, "hard"]),
          }
        : { soft: value(given, ["ulimits", name]), hard: value(given, ["ulimits", name]) };
    if (pair.soft === undefined || pair.hard === undefined) continue;
    const above = (a: number, b: number) => b !== -1 && (a === -1 || a > b);
    if (above(pair.soft, pair.hard))
      r(
        ["ulimits", name],
        `soft ${pair.soft} is above hard ${pair.hard}; soft must be at most hard`,
      );
    else out[name] = { soft: pair.soft, hard: pair.hard };
  }
  return out;
}
