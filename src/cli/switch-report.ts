/**
 * What switch, rollback, down and update share on the command line: --settle, and the report of
 * a switch's result. Not a command of its own.
 */
import type { SwitchPlan } from "../generations/manifest.js";
import type { SwitchResult } from "../generations/switch.js";
import { formatDiff } from "../generations/diff.js";
import { UsageError } from "../errors.js";
import type { CommandContext } from "./context.js";
import { stderrProgress } from "./progress.js";

/**
 * `--settle SECONDS` in milliseconds: how long started services must stay up; 0 does not wait.
 * Undefined without the flag (each container's `settle`, or the default, then applies).
 */
export function settleMs(ctx: CommandContext): number | undefined {
  const v = ctx.args.flags["settle"];
  if (typeof v !== "string") return undefined;
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) > 3600)
    throw new UsageError(`--settle takes seconds from 0 to 3600, got ${JSON.stringify(v)}`);
  return Math.round(Number(v) * 1000);
}

export function report(ctx: CommandContext, r: SwitchResult, dryRun: boolean): number {
  const p = r.plan;
  if (ctx.args.globals.json) ctx.out(JSON.stringify({ dryRun, ...r }, null, 2));
  else {
    ctx.out(
      `${dryRun ? "would switch" : "switched"} from generation ${r.from ?? "(none)"} to ${r.to}`,
    );
    printPlan(ctx, p);
    if (r.diff && r.diff.length > 0) {
      ctx.out("what changes:");
      for (const l of formatDiff(r.diff)) ctx.out(`  ${l}`);
    }
    if (r.rolledBack) {
      ctx.out(`rolled back to generation ${r.rolledBack.to}: ${r.reason}`);
      printPlan(ctx, { ...r.rolledBack.plan, unchanged: [], installed: [] });
      ctx.out(
        `generation ${r.to} is marked failed (see railyard generations). fix the config and switch again; ` +
          "switch --no-rollback keeps a failed generation running, to debug it",
      );
      if (r.rolledBack.failed.length > 0)
        ctx.out(`failed to start again: ${r.rolledBack.failed.join(", ")}. see railyard status`);
    } else if (r.stopped)
      ctx.out(
        `stopped ${r.stopped.join(", ")}: ${r.reason}. there is no earlier generation to go back to; ` +
          "fix the config and switch again",
      );
    else if (r.reason)
      ctx.out(
        `${r.reason}. generation ${r.to} stays current (--no-rollback or rollback); see railyard logs NAME`,
      );
  }
  return r.reason !== undefined ? 1 : 0;
}

function printPlan(ctx: CommandContext, p: SwitchPlan): void {
  const line = (what: string, xs: readonly string[]) => {
    if (xs.length > 0) ctx.out(`  ${what.padEnd(10)} ${xs.join(", ")}`);
  };
  line("start", p.start);
  line("restart", p.restart);
  line("stop", p.stop);
  line("install", p.installed);
  line("unchanged", p.unchanged);
}

/** What the switch library needs from a command: its environment, its words, its progress. */
export function switchIo(ctx: CommandContext, o: { progress?: boolean } = {}) {
  return {
    env: ctx.env,
    command: ctx.args.command ?? "switch",
    debug: ctx.debug,
    info: ctx.info,
    json: ctx.args.globals.json,
    ...(o.progress
      ? {
          onEvent: stderrProgress({ json: ctx.args.globals.json }),
        }
      : {}),
  };
}
