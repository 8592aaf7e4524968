import { accessSync, constants, readFileSync, statfsSync } from "node:fs";
import type { RuntimeName } from "../model/types.js";
import { RuntimeError } from "../errors.js";

export type CgroupLayout = "unified" | "hybrid" | "legacy";

/** The host facts runtime selection depends on, as a seam for tests. */
export interface RuntimeProbe {
  /** Absolute path of an executable on PATH, or undefined. */
  which(name: string): string | undefined;
  cgroupLayout(): CgroupLayout;
  /** Controllers enabled in the cgroup v2 hierarchy (hybrid: the one at /sys/fs/cgroup/unified). */
  v2Controllers(): string[];
  /** Whether this process holds CAP_SYS_RESOURCE (crun needs it to raise RLIMIT_MEMLOCK). */
  hasSysResource(): boolean;
}

export interface RuntimeChoice {
  readonly name: "runc" | "crun";
  readonly path: string;
  /** Why this runtime: shown under --verbose. */
  readonly reason: string;
}

const CGROUP2_SUPER_MAGIC = 0x63677270;

export function hostProbe(env: NodeJS.ProcessEnv = process.env): RuntimeProbe {
  const dirs = (
    env["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  ).split(":");
  const isCgroup2 = (p: string) => {
    try {
      return statfsSync(p).type === CGROUP2_SUPER_MAGIC;
    } catch {
      return false;
    }
  };
  return {
    which(name) {
      for (const d of [...dirs, "/usr/sbin", "/usr/bin", "/sbin"]) {
        try {
          accessSync(`${d}/${name}`, constants.X_OK);
          return `${d}/${name}`;
        } catch {
          // keep looking
        }
      }
      return undefined;
    },
    cgroupLayout() {
      if (isCgroup2("/sys/fs/cgroup")) return "unified";
      return isCgroup2("/sys/fs/cgroup/unified") ? "hybrid" : "legacy";
    },
    hasSysResource() {
      try {
        const hex =
          /CapEff:\s*([0-9a-f]+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? "0";
        return (BigInt(`0x${hex}`) & (1n << 24n)) !== 0n;
      } catch {
        return false;
      }
    },
    v2Controllers() {
      for (const p of [
        "/sys/fs/cgroup/unified/cgroup.controllers",
        "/sys/fs/cgroup/cgroup.controllers",
      ]) {
        try {
          return readFileSync(p, "utf8").trim().split(/\s+/).filter(Boolean);
        } catch {
          // not this layout
        }
      }
      return [];
    },
  };
}

/**
 * Pick the OCI runtime. "auto" prefers crun (smaller, faster to start) where it can work, and
 * runc otherwise: crun 1.x refuses a hybrid cgroup layout whose v2 hierarchy has controllers,
 * and on cgroup v2 it raises RLIMIT_MEMLOCK for its device filter, which needs CAP_SYS_RESOURCE.
 */
export function chooseRuntime(pref: RuntimeName, probe: RuntimeProbe): RuntimeChoice {
  const need = (name: "runc" | "crun", reason: string): RuntimeChoice => {
    const path = probe.which(name);
    if (!path)
      throw new RuntimeError(
        `${name} is not installed (runtime: ${JSON.stringify(pref)}). install it: apt-get install ${name}`,
        name,
      );
    return { name, path, reason };
  };
  if (pref === "runc" || pref === "crun")
    return need(pref, `runtime "${pref}" is set in the config`);
  const crun = probe.which("crun");
  const runc = probe.which("runc");
  const layout = probe.cgroupLayout();
  const controllers = layout === "hybrid" ? probe.v2Controllers() : [];
  const crunRefuses =
    layout === "hybrid" && controllers.length > 0
      ? `this host's cgroup layout is hybrid (v1 with controllers ${controllers.join(",")} also in v2), which crun refuses`
      : layout === "unified" && !probe.hasSysResource()
        ? "this process lacks CAP_SYS_RESOURCE, so crun cannot raise RLIMIT_MEMLOCK for its cgroup v2 device filter"
        : undefined;
  if (crun && !crunRefuses)
    return {
      name: "crun",
      path: crun,
      reason: `auto: crun found and the cgroup layout is ${layout}`,
    };
  if (runc)
    return {
      name: "runc",
      path: runc,
      reason: crun
        ? `auto: crun found, but ${crunRefuses}; using runc`
        : "auto: crun not installed; using runc",
    };
  if (crun)
    throw new RuntimeError(
      `crun cannot work here (${crunRefuses}) and runc is not installed. install runc: apt-get install runc`,
      "crun",
    );
  throw new RuntimeError("no OCI runtime found. install one: apt-get install runc", "runc");
}
