/**
 * `railyard stats [NAME...] [--watch]`: what each service's container uses, as `docker stats`
 * shows it: CPU %, memory (in use / limit), tasks, network and block IO. Read from the unit's
 * cgroup (cgroup2 or v1) and its main process's network namespace; CPU % is the CPU time used
 * over one second, so a container that keeps two cores busy shows 200%.
 */
import { loadFor, type Command, type CommandContext } from "./context.js";
import type { CgroupUsage } from "../runtime/cgroup.js";
import { bytes } from "./progress.js";

/** One service's figures; null where this host keeps none (with why, in `missing`). */
export interface StatsRow {
  readonly name: string;
  readonly state: string;
  readonly cpuPercent: number | null;
  readonly memory: { readonly current: number; readonly max: number | null } | null;
  readonly pids: number | null;
  readonly net: { readonly rx: number; readonly tx: number } | null;
  readonly block: { readonly read: number; readonly write: number } | null;
  /** What could not be read here, in words ("no memory controller for this cgroup"). */
  readonly missing: readonly string[];
}

const SAMPLE_MS = 1000;

/** A row from two samples `ms` apart. Pure. */
export function statsRow(
  name: string,
  state: string,
  a: CgroupUsage,
  b: CgroupUsage,
  ms: number,
  pids: { count: number },
  net: { rx: number; tx: number } | undefined,
  hostNetwork: boolean,
): StatsRow {
  const missing: string[] = [];
  const cpu =
    a.cpuNs !== undefined && b.cpuNs !== undefined
      ? Math.round(((b.cpuNs - a.cpuNs) / (ms * 1e6)) * 1000) / 10
      : null;
  if (cpu === null) missing.push("cpu: no CPU accounting for this cgroup");
  if (!b.memory) missing.push("memory: no memory controller for this cgroup on this host");
  if (!b.io) missing.push("block IO: no io/blkio controller for this cgroup on this host");
  if (hostNetwork) missing.push("net: shares the host's network, whose traffic is not its own");
  return {
    name,
    state,
    cpuPercent: cpu,
    memory: b.memory ? { current: b.memory.current, max: b.memory.max ?? null } : null,
    // Tasks from the pids controller; else the processes the cgroup lists.
    pids: b.pids ?? pids.count,
    net: hostNetwork ? null : (net ?? null),
    block: b.io ?? null,
    missing,
  };
}

function table(rows: readonly StatsRow[]): string[] {
  const w = Math.max(4, ...rows.map((r) => r.name.length));
  const mem = (r: StatsRow) =>
    r.memory ? `${bytes(r.memory.current)} / ${r.memory.max ? bytes(r.memory.max) : "-"}` : "n/a";
  const io = (x: { a: number; b: number } | null) => (x ? `${bytes(x.a)} / ${bytes(x.b)}` : "n/a");
  const lines = [
    `${"NAME".padEnd(w)}  ${"CPU %".padStart(7)}  ${"MEM USAGE / LIMIT".padEnd(22)}  ${"PIDS".padStart(5)}  ${"NET I/O".padEnd(20)}  BLOCK I/O`,
  ];
  for (const r of rows)
    lines.push(
      `${r.name.padEnd(w)}  ${(r.cpuPercent === null ? "n/a" : `${r.cpuPercent.toFixed(1)}%`).padStart(7)}  ${mem(r).padEnd(22)}  ${String(r.pids ?? "-").padStart(5)}  ${io(r.net ? { a: r.net.rx, b: r.net.tx } : null).padEnd(20)}  ${io(r.block ? { a: r.block.read, b: r.block.write } : null)}`,
    );
  return lines;
}

export const statsCommand: Command = {
  name: "stats",
  summary: "CPU, memory, tasks and IO of each service's container (docker stats)",
  usage: "railyard stats [NAME...] [--watch] [--json]",
  help: `Shows, per service of the current generation, what its container uses: CPU % over one
second (200% is two cores), memory in use and its limit, tasks, network IO (received / sent,
its own network namespace's) and block IO (read / written). Read from the unit's cgroup, on
cgroup2 or v1; a figure this host does not keep for the cgroup shows n/a (with --json, null and
the reason under "missing"), never 0.

  --watch   refresh every second, in place on a terminal, until Ctrl-C`,
  flags: { long: { watch: false } },
  async run(ctx) {
    const [config, { currentServices }, { Systemctl, requireSystemd }, cg] = await Promise.all([
      loadFor(ctx, "stats"),
      import("../generations/services.js"),
      import("../systemd/systemctl.js"),
      import("../runtime/cgroup.js"),
    ]);
    requireSystemd("railyard stats", config.rootless);
    const names = ctx.args.positionals;
    const { services } = await currentServices(config, names, names.length === 0);
    const systemctl = new Systemctl(undefined, config.rootless);
    const once = async (): Promise<StatsRow[]> => {
      const states = await systemctl.show(
        services.map(([, s]) => s.unit),
        ["ActiveState", "SubState", "MainPID", "ControlGroup"],
      );
      const groups = states.map((s) => s["ControlGroup"] ?? "");
      const first = groups.map((g) => (g ? cg.cgroupUsage(g) : {}));
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
      const ms = Date.now() - t0;
      return services.map(([n], i) => {
        const s = states[i] ?? {};
        const g = groups[i] ?? "";
        const pid = Number(s["MainPID"] ?? 0);
        const c = config.containers[n];
        return statsRow(
          n,
          `${s["ActiveState"] ?? "?"}/${s["SubState"] ?? "?"}`,
          first[i] ?? {},
          g ? cg.cgroupUsage(g) : {},
          ms,
          { count: g ? cg.cgroupPids(g).length : 0 },
          pid ? cg.netIO(pid) : undefined,
          c?.network === "host",
        );
      });
    };
    if (ctx.args.flags["watch"] !== true) {
      print(ctx, await once(), false);
      return 0;
    }
    for (;;) print(ctx, await once(), process.stdout.isTTY === true);
  },
};

function print(ctx: CommandContext, rows: readonly StatsRow[], inPlace: boolean): void {
  if (ctx.args.globals.json) {
    // --watch --json: one sample per line, for a script that reads a stream.
    ctx.out(
      ctx.args.flags["watch"] === true ? JSON.stringify(rows) : JSON.stringify(rows, null, 2),
    );
    return;
  }
  // Home and clear, as docker stats redraws its table.
  if (inPlace) process.stdout.write("\x1b[H\x1b[2J");
  for (const l of table(rows)) ctx.out(l);
}
