/**
 * `railyard switch`, `rollback` and `down`: flags to the switch library (generations/switch.ts),
 * and its result printed.
 */
import { UsageError } from "../errors.js";
import { loadFor, type Command } from "./context.js";
import { report, settleMs, switchIo } from "./switch-report.js";

export const switchCommand: Command = {
  name: "switch",
  summary: "build a generation and make it the running one; undone if a service fails to start",
  usage: "railyard switch [--dry-run] [--settle SECS] [--no-rollback]",
  help: `Builds a generation from the config (see railyard build) and activates it: services that
are new start, services whose unit or bundle changed restart, services removed from the config stop,
and the rest are left alone. The current generation pointer is flipped atomically; a switch that
is interrupted is completed by running switch again. Needs systemd as the init system.

Each service it starts or restarts must then settle: be healthy (with a healthcheck) or stay up
for its settle time (a container's settle, default 3 s; all at once). When one does not, switch
prints its last journal lines (with a hint when they show the cause), goes back to the
generation it left (only what changed restarts again), marks the new generation failed, runs
onFailure, and exits 1. On a first switch there is nothing to go back to: what failed is
stopped.

  --dry-run      print the plan (which services start, restart, stop), change nothing
  --settle SECS  how long every started service must stay up (overrides settle; 0 does not wait)
  --no-rollback  keep the new generation when a service fails, to debug it (still exits 1)`,
  flags: { long: { "dry-run": false, settle: true, "no-rollback": false } },
  async run(ctx) {
    const [config, { switchConfig }] = await Promise.all([
      loadFor(ctx, "switch"),
      import("../generations/switch.js"),
    ]);
    const dryRun = ctx.args.flags["dry-run"] === true;
    const settle = settleMs(ctx); // a bad --settle is a usage error before anything is built
    const r = await switchConfig(switchIo(ctx, { progress: true }), config, {
      dryRun,
      settle,
      rollback: ctx.args.flags["no-rollback"] !== true,
    });
    return report(ctx, r, dryRun);
  },
};

export const rollbackCommand: Command = {
  name: "rollback",
  summary: "activate an earlier generation (the previous good one, or --to N)",
  usage: "railyard rollback [--to N] [--dry-run] [--settle SECS]",
  help: `Activates an earlier generation through the same steps as switch, with exactly its bundles
and image digests. Without --to, the newest generation before the current one that did not fail
(see railyard generations); after an interrupted switch, the one it was leaving, and after an
interrupted automatic rollback, the one that rollback was going back to.

  --to N         the generation to activate (see railyard generations), failed or not
  --dry-run      print the plan, change nothing
  --settle SECS  how long started services must stay up, as for switch (default 3)`,
  flags: { long: { to: true, "dry-run": false, settle: true } },
  async run(ctx) {
    const [config, { rollbackConfig }] = await Promise.all([
      loadFor(ctx, "rollback"),
      import("../generations/switch.js"),
    ]);
    const dryRun = ctx.args.flags["dry-run"] === true;
    const to = ctx.args.flags["to"];
    if (typeof to === "string" && !/^\d+$/.test(to))
      throw new UsageError(`--to takes a generation number, got ${JSON.stringify(to)}`);
    const settle = settleMs(ctx); // a bad --settle is a usage error before anything happens
    const r = await rollbackConfig(switchIo(ctx), config, {
      ...(typeof to === "string" ? { to: Number(to) } : {}),
      dryRun,
      settle,
    });
    return report(ctx, r, dryRun);
  },
};

export const downCommand: Command = {
  name: "down",
  summary: "stop every service of this config and remove its units; rollback brings them back",
  usage: "railyard down [--dry-run]",
  help: `Switches to a new generation with no containers, as docker compose down stops a project:
every service of this config stops, and its units (with their health timers and sockets) are
removed. Images, volumes, railyard.lock and the earlier generations stay: railyard rollback starts
the services again as they ran, and railyard switch starts them from the config. Services of other
configs (other state dirs) are not touched. Needs systemd as the init system.

  --dry-run      print which services would stop, change nothing`,
  flags: { long: { "dry-run": false } },
  async run(ctx) {
    const [loaded, { downConfig }] = await Promise.all([
      loadFor(ctx, "down"),
      import("../generations/switch.js"),
    ]);
    const dryRun = ctx.args.flags["dry-run"] === true;
    const r = await downConfig(switchIo(ctx), loaded, { dryRun });
    if ("current" in r) {
      // Nothing of this config runs: no new generation, nothing changed.
      const cur = r.current;
      const none = { start: [], restart: [], stop: [], unchanged: [], installed: [] };
      if (ctx.args.globals.json)
        ctx.out(
          JSON.stringify({ dryRun, from: cur ?? null, to: cur ?? null, plan: none }, null, 2),
        );
      else ctx.out(`nothing to stop: generation ${cur ?? "(none)"} runs no service of this config`);
      return 0;
    }
    return report(ctx, r, dryRun);
  },
};
