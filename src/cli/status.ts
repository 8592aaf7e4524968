import { logMatches } from "../systemd/journal.js";
import { own } from "../util/record.js";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import type { ResolvedConfig } from "../model/types.js";
import { hasHealthcheck } from "../generations/manifest.js";
import { healthFile } from "../systemd/unit.js";
import { oneName } from "./select.js";
import { loadFor, type Command } from "./context.js";
import { bytes } from "./progress.js";

const PROPS = [
  "Id",
  "ActiveState",
  "SubState",
  "MainPID",
  "NRestarts",
  "ActiveEnterTimestamp",
  // systemd's own accounting: no read of ours, and "[not set]" where it keeps none.
  "CPUUsageNSec",
  "MemoryCurrent",
];

/** A `systemctl show` number, or null for "[not set]" (and systemd's (uint64_t) -1). */
export function shownNumber(v: string | undefined): number | null {
  if (v === undefined || !/^\d+$/.test(v) || v === "18446744073709551615") return null;
  return Number(v);
}

/** CPU time as status shows it: "0.42s", "3m12s". Pure. */
export function cpuTime(ns: number | null): string {
  if (ns === null) return "-";
  const s = ns / 1e9;
  if (s < 60) return `${s.toFixed(2)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${Math.floor(s % 60)}s` : `${Math.floor(m / 60)}h${m % 60}m`;
}

/** `@1700000000` (systemctl show --timestamp=unix) -> "3m12s". */
function uptime(since: string, now: number): string {
  const t = Number(since.replace(/^@/, "")) * 1000;
  if (!since.startsWith("@") || !Number.isFinite(t)) return "-";
  let s = Math.max(0, Math.floor((now - t) / 1000));
  const d = Math.floor(s / 86400);
  s %= 86400;
  const h = Math.floor(s / 3600);
  s %= 3600;
  const m = Math.floor(s / 60);
  s %= 60;
  return d > 0 ? `${d}d${h}h` : h > 0 ? `${h}h${m}m` : m > 0 ? `${m}m${s}s` : `${s}s`;
}

/** What the last check wrote: "healthy", "unhealthy 2" (failures in a row), "starting". */
function readHealth(name: string, active: string | undefined, config: ResolvedConfig): string {
  if (active !== "active" && active !== "activating") return "-";
  try {
    return readFileSync(healthFile(name, config), "utf8").trim() || "starting";
  } catch {
    return "starting";
  }
}

export const statusCommand: Command = {
  name: "status",
  summary: "each service: state, health, main PID, uptime, CPU time, memory, restarts, image (ps)",
  usage: "railyard status [NAME...] [--json]",
  help: `Shows the services of the current generation as systemd sees them: state, health, main
PID, uptime, CPU time used and memory in use (systemd's own accounting: "-" where it keeps
none for the unit), restarts, generation and image. railyard ps is the same command, as docker
ps and podman ps are theirs. railyard stats shows CPU % and IO.`,
  flags: { long: {} },
  async run(ctx) {
    const [
      config,
      { currentGeneration, journalGenerations, readJournal, readManifest, switchLockFile },
      { requireSystemd, Systemctl },
    ] = await Promise.all([
      loadFor(ctx, "status"),
      import("../generations/store.js"),
      import("../systemd/systemctl.js"),
    ]);
    requireSystemd("railyard status", config.rootless);
    const gen = currentGeneration(config.stateDir);
    if (gen === undefined) throw new UsageError("no generation is active yet. run railyard switch");
    const m = readManifest(config.stateDir, gen);
    const names =
      ctx.args.positionals.length > 0 ? ctx.args.positionals : Object.keys(m.services).sort();
    for (const n of names)
      if (!own(m.services, n))
        throw new UsageError(
          `no service ${JSON.stringify(n)} in generation ${gen}. services: ${Object.keys(m.services).join(", ")}`,
        );
    const states = await new Systemctl(undefined, config.rootless).show(
      names.map((n) => m.services[n]?.unit ?? ""),
      PROPS,
    );
    // An interrupted switch leaves each changed service on either generation until a switch
    // finishes it: say so rather than claim the new one.
    const pending = readJournal(config.stateDir);
    // Every other generation the journal says the host may run (a first switch has none).
    const others = pending
      ? journalGenerations(pending)
          .filter((n) => n !== gen)
          .map((n) => readManifest(config.stateDir, n))
      : [];
    const unsure = (n: string) =>
      pending !== undefined &&
      (others.length === 0 ||
        others.some((o) => o.services[n]?.fingerprint !== m.services[n]?.fingerprint));
    if (pending && !ctx.args.globals.json) {
      // The journal stays while a switch watches its services settle: say whether one runs.
      const { lockHolder } = await import("../util/lockfile.js");
      const running = lockHolder(switchLockFile(config.stateDir));
      ctx.info(
        running !== undefined
          ? `a switch from generation ${pending.from ?? "(none)"} to ${pending.to} is under way (pid ${running}); services marked ? may run either until it ends`
          : `a switch from generation ${pending.from ?? "(none)"} to ${pending.to} did not finish; services marked ? may run either. railyard switch (or rollback) finishes it`,
      );
    }
    const now = Date.now();
    const rows = names.map((n, i) => {
      const s = states[i] ?? {};
      return {
        name: n,
        unit: m.services[n]?.unit,
        state: `${s["ActiveState"] ?? "?"}/${s["SubState"] ?? "?"}`,
        mainPid: Number(s["MainPID"] ?? 0),
        since: s["ActiveEnterTimestamp"] ?? "",
        uptime: s["ActiveState"] === "active" ? uptime(s["ActiveEnterTimestamp"] ?? "", now) : "-",
        restarts: Number(s["NRestarts"] ?? 0),
        image: m.services[n]?.image ?? null,
        health: hasHealthcheck(m.services[n]) ? readHealth(n, s["ActiveState"], config) : null,
        cpuNs: shownNumber(s["CPUUsageNSec"]),
        memory: shownNumber(s["MemoryCurrent"]),
        generation: unsure(n) ? null : gen,
      };
    });
    if (ctx.args.globals.json) ctx.out(JSON.stringify(rows, null, 2));
    else {
      const w = Math.max(4, ...rows.map((r) => r.name.length));
      ctx.out(
        `${"NAME".padEnd(w)}  ${"STATE".padEnd(18)} ${"HEALTH".padEnd(11)} ${"PID".padStart(7)}  ${"UPTIME".padStart(7)}  ${"CPU".padStart(7)}  ${"MEM".padStart(10)}  RESTARTS  GEN  IMAGE`,
      );
      for (const r of rows)
        ctx.out(
          `${r.name.padEnd(w)}  ${r.state.padEnd(18)} ${(r.health ?? "-").padEnd(11)} ${String(r.mainPid || "-").padStart(7)}  ${r.uptime.padStart(7)}  ${cpuTime(r.cpuNs).padStart(7)}  ${(r.memory === null ? "-" : bytes(r.memory)).padStart(10)}  ${String(r.restarts).padStart(8)}  ${String(r.generation ?? "?").padStart(3)}  ${r.image ? r.image.slice(0, 19) : "(host)"}`,
        );
    }
    return 0;
  },
};

export const logsCommand: Command = {
  name: "logs",
  summary: "show a service's journal (docker logs; journalctl -u)",
  usage: "railyard logs NAME [-f] [-n N]",
  help: `Shows the journal of a container's unit: its own output, and systemd's lines about it.

  -f, --follow   keep printing new lines
  -n, --lines N  how many lines (default: journalctl's)`,
  flags: { long: { follow: false, lines: true }, short: { f: "follow", n: "lines" } },
  async run(ctx) {
    const name = oneName(ctx.args.positionals, this.usage);
    const [config, { currentGeneration, readManifest }, { exitStatus }, { requireSystemd }] =
      await Promise.all([
        loadFor(ctx, "logs"),
        import("../generations/store.js"),
        import("../util/exec.js"),
        import("../systemd/systemctl.js"),
      ]);
    // Without systemd there is no journal of services to show: say what status says.
    requireSystemd("railyard logs", config.rootless);
    const c = own(config.containers, name);
    const gen = currentGeneration(config.stateDir);
    const unit =
      (gen !== undefined
        ? own(readManifest(config.stateDir, gen).services, name)?.unit
        : undefined) ?? c?.serviceName;
    if (!unit) throw new UsageError(`no container named ${JSON.stringify(name)} in ${config.file}`);
    const args = [...logMatches(unit, config.rootless), "--no-pager"];
    if (ctx.args.flags["follow"] === true) args.push("-f");
    const lines = ctx.args.flags["lines"];
    if (typeof lines === "string") {
      if (!/^\d+$/.test(lines))
        throw new UsageError(`--lines takes a number, got ${JSON.stringify(lines)}`);
      args.push("-n", lines);
    }
    return new Promise((resolve) => {
      const child = spawn("journalctl", args, { stdio: "inherit" });
      child.on("error", () => resolve(127));
      child.on("close", (code, sig) => resolve(exitStatus(code, sig)));
    });
  },
};
