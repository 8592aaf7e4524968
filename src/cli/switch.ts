import type { ResolvedConfig } from "../config/types.js";
import type { ActivationResult } from "../generations/activate.js";
import type { Systemctl } from "../systemd/systemctl.js";
import { GenerationNotFoundError, UsageError } from "../errors.js";
import { loadFor, type Command, type CommandContext } from "./context.js";
import { logMatches } from "./status.js";

/** What switch and rollback use, loaded only when one of them runs (see main.ts). */
async function modules() {
  const [activation, build, manifest, store, detect, systemctl, settle, diagnose, spec, exec] =
    await Promise.all([
      import("../generations/activate.js"),
      import("../generations/build.js"),
      import("../generations/manifest.js"),
      import("../generations/store.js"),
      import("../runtime/detect.js"),
      import("../systemd/systemctl.js"),
      import("../generations/settle.js"),
      import("../runtime/diagnose.js"),
      import("../bundle/spec.js"),
      import("../util/exec.js"),
    ]);
  return {
    ...activation,
    ...build,
    ...manifest,
    ...store,
    ...detect,
    ...systemctl,
    ...settle,
    ...diagnose,
    ...spec,
    ...exec,
  };
}

/** The switch and rollback result, with the services that died while settling. */
type Outcome = ActivationResult & { readonly died: readonly string[] };

/**
 * `--settle SECONDS` in milliseconds: how long started services must stay up; 0 does not wait.
 * Undefined without the flag (watchSettle's default then applies).
 */
function settleMs(ctx: CommandContext): number | undefined {
  const v = ctx.args.flags["settle"];
  if (typeof v !== "string") return undefined;
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) > 3600)
    throw new UsageError(`--settle takes seconds from 0 to 3600, got ${JSON.stringify(v)}`);
  return Math.round(Number(v) * 1000);
}

/**
 * Watch what the activation started until it settles; for each service that failed to start or
 * died within that time, print its last journal lines and what they point to.
 */
async function settleAndExplain(
  m: Modules,
  ctx: CommandContext,
  config: ResolvedConfig,
  r: ActivationResult,
  systemctl: Systemctl,
  settle: number | undefined,
): Promise<Outcome> {
  const manifest = m.readManifest(config.stateDir, r.to);
  const unitOf = (n: string) => manifest.services[n]?.unit ?? `railyard-${n}.service`;
  const started = [...r.plan.start, ...r.plan.restart].filter(
    (n) => manifest.services[n]?.autoStart && !r.failed.includes(unitOf(n)),
  );
  const diedUnits = await m.watchSettle(systemctl, started.map(unitOf), settle);
  const bad = Object.keys(manifest.services).filter((n) =>
    [...r.failed, ...diedUnits].includes(unitOf(n)),
  );
  if (!ctx.args.globals.json)
    for (const n of bad) {
      const j = await m.exec("journalctl", [
        ...logMatches(unitOf(n), config.rootless),
        "--no-pager",
        "-o",
        "cat",
        "-n",
        "15",
      ]);
      const lines = j.stdout.split("\n").filter((l) => l !== "");
      ctx.info(`${n} did not stay up. its last lines:`);
      for (const l of lines) ctx.info(`  | ${l}`);
      const c = config.containers[n];
      if (c)
        for (const h of m.diagnose(lines, c, m.effectiveCapabilities(c))) ctx.info(`hint: ${h}`);
    }
  return { ...r, died: diedUnits };
}
type Modules = Awaited<ReturnType<typeof modules>>;

/** A test aid: RAILYARD_CRASH_AT=<step> makes activation SIGKILL itself after that step. */
function crashHook(env: NodeJS.ProcessEnv): ((step: string) => void) | undefined {
  const at = env["RAILYARD_CRASH_AT"];
  return at ? (s) => (s === at ? process.kill(process.pid, "SIGKILL") : undefined) : undefined;
}

function report(ctx: CommandContext, r: Outcome, dryRun: boolean): number {
  const p = r.plan;
  if (ctx.args.globals.json) ctx.out(JSON.stringify({ dryRun, ...r }, null, 2));
  else {
    ctx.out(
      `${dryRun ? "would switch" : "switched"} from generation ${r.from ?? "(none)"} to ${r.to}`,
    );
    const line = (what: string, xs: readonly string[]) => {
      if (xs.length > 0) ctx.out(`  ${what.padEnd(10)} ${xs.join(", ")}`);
    };
    line("start", p.start);
    line("restart", p.restart);
    line("stop", p.stop);
    line("install", p.installed);
    line("unchanged", p.unchanged);
    if (r.failed.length > 0)
      ctx.out(
        `failed to start: ${r.failed.join(", ")}. see railyard status and railyard logs NAME`,
      );
    if (r.died.length > 0)
      ctx.out(
        `died after starting: ${r.died.join(", ")}. systemd keeps restarting them; see railyard logs NAME`,
      );
  }
  return r.failed.length > 0 || r.died.length > 0 ? 1 : 0;
}

/** Activate a generation as the CLI does it: real systemctl, the host's unit dir, --verbose logs. */
async function activateFor(
  m: Modules,
  ctx: CommandContext,
  config: ResolvedConfig,
  to: number,
  dryRun: boolean,
  settle: number | undefined,
): Promise<Outcome> {
  const hook = crashHook(ctx.env);
  const rootless = config.rootless;
  // activate picks the manager's own unit dir; the variable overrides it (tests).
  const unitDir = ctx.env["RAILYARD_UNIT_DIR"];
  const systemctl = new m.Systemctl(undefined, rootless);
  const r = await m.activate(config.stateDir, to, {
    systemctl,
    ...(unitDir !== undefined ? { unitDir } : {}),
    ...(rootless ? { rootless } : {}),
    ...(config.idScope ? { idScope: config.idScope } : {}),
    dryRun,
    log: ctx.debug,
    ...(hook ? { step: hook } : {}),
  });
  return dryRun ? { ...r, died: [] } : settleAndExplain(m, ctx, config, r, systemctl, settle);
}

export const switchCommand: Command = {
  name: "switch",
  summary: "build a generation and make it the running one (only changed services restart)",
  usage: "railyard switch [--dry-run]",
  help: `Builds a generation from the config (see railyard build) and activates it: services that
are new start, services whose unit or bundle changed restart, services removed from the config stop,
and the rest are left alone. The current generation pointer is flipped atomically; a switch that
is interrupted is completed by running switch again. Needs systemd as the init system.

Each service it starts or restarts must then stay up for --settle seconds (default 3, all at
once); one that fails or dies in that time has its last journal lines printed, with a hint when
they show the cause, and switch exits 1.

  --dry-run      print the plan (which services start, restart, stop), change nothing
  --settle SECS  how long started services must stay up (default 3; 0 does not wait)`,
  flags: { long: { "dry-run": false, settle: true } },
  async run(ctx) {
    const [config, m] = await Promise.all([loadFor(ctx, "switch"), modules()]);
    const dryRun = ctx.args.flags["dry-run"] === true;
    const settle = settleMs(ctx); // a bad --settle is a usage error before anything is built
    if (!dryRun) m.requireSystemd("railyard switch", config.rootless);
    const runtime = m.chooseRuntime(config.runtime, m.hostProbe(ctx.env));
    ctx.debug(`runtime: ${runtime.name} (${runtime.reason})`);
    const r = await m.withSwitchLock(config.stateDir, async () => {
      const g = await m.buildGeneration(config, runtime, {
        log: ctx.debug,
        warn: ctx.info,
        env: ctx.env,
        write: !dryRun,
      });
      if (dryRun && g.created) {
        // Not written: plan against the current generation by hand.
        const cur = m.currentGeneration(config.stateDir);
        return {
          from: cur,
          to: g.generation,
          plan: m.planSwitch(
            cur !== undefined ? m.readManifest(config.stateDir, cur) : undefined,
            g.manifest,
          ),
          failed: [],
          died: [],
        };
      }
      return activateFor(m, ctx, config, g.generation, dryRun, settle);
    });
    return report(ctx, r, dryRun);
  },
};

export const rollbackCommand: Command = {
  name: "rollback",
  summary: "activate an earlier generation (the previous one, or --to N)",
  usage: "railyard rollback [--to N] [--dry-run]",
  help: `Activates an earlier generation through the same steps as switch, with exactly its bundles
and image digests. Without --to, the generation before the current one (or, after an interrupted
switch, the one it was leaving).

  --to N         the generation to activate (see railyard generations)
  --dry-run      print the plan, change nothing
  --settle SECS  how long started services must stay up, as for switch (default 3)`,
  flags: { long: { to: true, "dry-run": false, settle: true } },
  async run(ctx) {
    const [config, m] = await Promise.all([loadFor(ctx, "rollback"), modules()]);
    const dryRun = ctx.args.flags["dry-run"] === true;
    const to = ctx.args.flags["to"];
    if (typeof to === "string" && !/^\d+$/.test(to))
      throw new UsageError(`--to takes a generation number, got ${JSON.stringify(to)}`);
    const settle = settleMs(ctx); // a bad --settle is a usage error before anything happens
    if (!dryRun) m.requireSystemd("railyard rollback", config.rootless);
    const r = await m.withSwitchLock(config.stateDir, async () => {
      const all = m.listGenerations(config.stateDir);
      const cur = m.currentGeneration(config.stateDir);
      const pending = m.readJournal(config.stateDir);
      let target: number | undefined;
      if (typeof to === "string") {
        target = Number(to);
        if (!all.includes(target))
          throw new GenerationNotFoundError(
            `generation ${target} does not exist. generations: ${all.join(", ") || "(none)"}`,
            target,
          );
      } else if (pending?.from !== undefined) target = pending.from;
      else target = [...all].reverse().find((n) => cur !== undefined && n < cur);
      if (target === undefined)
        throw new GenerationNotFoundError(
          `there is no generation before ${cur ?? "(none)"} to roll back to`,
          (cur ?? 0) - 1,
        );
      return activateFor(m, ctx, config, target, dryRun, settle);
    });
    return report(ctx, r, dryRun);
  },
};
