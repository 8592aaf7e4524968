import { idScopeOf } from "../model/ids.js";
import type { ResolvedConfig } from "../model/types.js";
import type { TransactionResult } from "../generations/transaction.js";
import type { GenerationManifest, SwitchPlan } from "../generations/manifest.js";
import { formatDiff, type ServiceDiff } from "../generations/diff.js";
import { diffFromCurrent } from "./diff.js";
import { failureEnv, onFailureArgv, type FailureEvent } from "../systemd/notify.js";
import { GenerationNotFoundError, UsageError } from "../errors.js";
import { loadFor, type Command, type CommandContext } from "./context.js";
import { logMatches } from "./status.js";
import { pullReporter } from "./progress.js";

/** What switch, rollback and update use, loaded only when one of them runs (see main.ts). */
export async function switchModules() {
  const [
    activation,
    transaction,
    build,
    manifest,
    store,
    detect,
    systemctl,
    settle,
    diagnose,
    spec,
    exec,
    secrets,
  ] = await Promise.all([
    import("../generations/activate.js"),
    import("../generations/transaction.js"),
    import("../generations/build.js"),
    import("../generations/manifest.js"),
    import("../generations/store.js"),
    import("../host/detect.js"),
    import("../systemd/systemctl.js"),
    import("../generations/settle.js"),
    import("../runtime/diagnose.js"),
    import("../model/capabilities.js"),
    import("../util/exec.js"),
    import("../generations/secret-digests.js"),
  ]);
  return {
    ...activation,
    ...transaction,
    ...build,
    ...manifest,
    ...store,
    ...detect,
    ...systemctl,
    ...settle,
    ...diagnose,
    ...spec,
    ...exec,
    ...secrets,
  };
}
export type Modules = Awaited<ReturnType<typeof switchModules>>;

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

/**
 * Each service's settle time: the flag for all, else the container's `settle`, else the default
 * (a service with a healthcheck has settled once healthy, which its start already waited for).
 */
function settleFor(
  m: Modules,
  config: ResolvedConfig | undefined,
  flag: number | undefined,
): (name: string) => number {
  return (n) => {
    if (flag !== undefined) return flag;
    const c = config?.containers[n];
    return c?.settle ?? (c?.healthcheck ? 0 : m.DEFAULT_SETTLE_MS);
  };
}

/** Print each failed service's last journal lines and what they point to. */
async function explain(
  m: Modules,
  ctx: CommandContext,
  config: ResolvedConfig,
  units: (n: string) => string,
  names: readonly string[],
): Promise<void> {
  if (ctx.args.globals.json) return;
  for (const n of names) {
    const j = await m.exec("journalctl", [
      ...logMatches(units(n), config.rootless),
      "--no-pager",
      "-o",
      "cat",
      "-n",
      "15",
    ]);
    const lines = j.stdout.split("\n").filter((l) => l !== "");
    if (lines.length === 0) ctx.info(`${n} did not stay up, and wrote nothing to its journal`);
    else ctx.info(`${n} did not stay up. its last lines:`);
    for (const l of lines) ctx.info(`  | ${l}`);
    const c = config.containers[n];
    if (c) for (const h of m.diagnose(lines, c, m.effectiveCapabilities(c))) ctx.info(`hint: ${h}`);
  }
}

/** A test aid: RAILYARD_CRASH_AT=<step> makes activation SIGKILL itself after that step. */
function crashHook(env: NodeJS.ProcessEnv): ((step: string) => void) | undefined {
  const at = env["RAILYARD_CRASH_AT"];
  return at ? (s) => (s === at ? process.kill(process.pid, "SIGKILL") : undefined) : undefined;
}

export function report(
  ctx: CommandContext,
  r: TransactionResult & { readonly diff?: readonly ServiceDiff[] },
  dryRun: boolean,
): number {
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

/**
 * The journal identifier of this state dir's switch lines: "railyard", and for a state dir other
 * than the default, with its id scope, so that each project's events list only its own switches.
 */
export const journalIdentifier = (config: ResolvedConfig): string =>
  config.idScope ? `railyard-${config.idScope}` : "railyard";

/** The journal's line for a switch, rollback or update that changed something or failed. Pure. */
export function eventLine(verb: string, r: TransactionResult): string | undefined {
  const p = r.plan;
  const parts = (
    [
      ["start", p.start],
      ["restart", p.restart],
      ["stop", p.stop],
    ] as const
  )
    .filter(([, xs]) => xs.length > 0)
    .map(([k, xs]) => `${k} ${xs.join(" ")}`);
  if (parts.length === 0 && r.reason === undefined) return undefined;
  const back = r.rolledBack ? `; rolled back to generation ${r.rolledBack.to}` : "";
  return `${verb} from generation ${r.from ?? "(none)"} to ${r.to}: ${parts.join("; ") || "no service changed"}${r.reason !== undefined ? `; failed: ${r.reason}${back}` : ""}`;
}

/** Run `onFailure` for a failed switch or update, and say so when it fails itself. */
export async function tellSomeone(
  m: Modules,
  ctx: CommandContext,
  config: ResolvedConfig,
  event: FailureEvent,
): Promise<void> {
  if (config.onFailure === undefined) return;
  const [cmd, ...args] = onFailureArgv(config.onFailure);
  const r = await m
    .exec(cmd as string, args, {
      env: { ...ctx.env, ...failureEnv(event) },
      signal: AbortSignal.timeout(60_000),
      // What it leaves running (a notifier in the background) never holds the switch open.
      group: true,
    })
    .catch((e: Error) => ({ code: -1, stderr: e.message, stdout: "" }));
  if (r.code !== 0)
    ctx.info(
      `onFailure exited ${r.code}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" / ")}`,
    );
  else ctx.debug("onFailure ran");
}

/**
 * Activate a generation as the CLI does it: real systemctl, the host's unit dir, --verbose logs,
 * then the settle watch; `rollback` undoes a switch whose services do not settle.
 */
export async function transactFor(
  m: Modules,
  ctx: CommandContext,
  config: ResolvedConfig,
  to: number,
  o: { dryRun: boolean; settle: number | undefined; rollback: boolean; mark: boolean },
): Promise<TransactionResult> {
  const hook = crashHook(ctx.env);
  const rootless = config.rootless;
  // activate picks the manager's own unit dir; the variable overrides it (tests).
  const unitDir = ctx.env["RAILYARD_UNIT_DIR"];
  const systemctl = new m.Systemctl(undefined, rootless);
  // The settle times of the generation being started, as its own config gave them.
  const target = o.dryRun ? undefined : m.readGenerationConfig(config.stateDir, to);
  const manifest = o.dryRun ? undefined : m.readManifest(config.stateDir, to);
  // A secret or environmentFiles value changed since its services started restarts them,
  // changed generation or not.
  const { digests, rotated } = m.startValues(target ?? config, { dryRun: o.dryRun });
  if (rotated.length > 0)
    ctx.debug(`secrets or environmentFiles changed for: ${rotated.join(", ")}`);
  const r = await m.transact(config.stateDir, to, {
    systemctl,
    ...(unitDir !== undefined ? { unitDir } : {}),
    ...(rootless ? { rootless } : {}),
    scope: idScopeOf(config),
    dryRun: o.dryRun,
    log: ctx.debug,
    ...(hook ? { step: hook } : {}),
    settleFor: settleFor(m, target ?? config, o.settle),
    rollback: o.rollback,
    mark: o.mark,
    alsoRestart: rotated,
    onFailed: (names) =>
      explain(
        m,
        ctx,
        target ?? config,
        (n) => manifest?.services[n]?.unit ?? `railyard-${n}.service`,
        names,
      ),
  });
  if (!o.dryRun) {
    const back = r.rolledBack?.plan;
    const started = [r.plan, ...(back ? [back] : [])].flatMap((p) => [...p.start, ...p.restart]);
    m.recordSecrets(config.stateDir, digests, started);
    const note = eventLine(ctx.args.command ?? "switch", r);
    // For railyard events: the journal keeps what each switch did, beside the services' own lines.
    if (note)
      await m
        .exec("systemd-cat", ["-t", journalIdentifier(config), "--", "echo", note])
        .catch(() => ctx.debug("the journal did not take the switch's line"));
  }
  return r;
}

/**
 * A dry run's result when the generation was not written (it differs from every one on disk):
 * the plan against the current generation, worked out by hand, as activate would.
 */
function unwrittenPlan(
  m: Modules,
  stateDir: string,
  cur: number | undefined,
  g: { readonly generation: number; readonly manifest: GenerationManifest },
  rotated: readonly string[],
): TransactionResult {
  const from = cur !== undefined ? m.readManifest(stateDir, cur) : undefined;
  return {
    from: cur,
    to: g.generation,
    plan: m.withRestarts(m.planSwitch(from, g.manifest), rotated),
    failed: [],
    died: [],
  };
}

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
    const [config, m] = await Promise.all([loadFor(ctx, "switch"), switchModules()]);
    const dryRun = ctx.args.flags["dry-run"] === true;
    const settle = settleMs(ctx); // a bad --settle is a usage error before anything is built
    m.readSecretValues(config); // a missing secret file is a config error before anything is built
    if (!dryRun) m.requireSystemd("railyard switch", config.rootless);
    const runtime = m.chooseRuntime(config.runtime, m.hostProbe(ctx.env));
    ctx.debug(`runtime: ${runtime.name} (${runtime.reason})`);
    let diff: readonly ServiceDiff[] | undefined;
    const r = await m.withSwitchLock(config.stateDir, async () => {
      const g = await m.buildGeneration(config, runtime, {
        log: ctx.debug,
        warn: ctx.info,
        env: ctx.env,
        write: !dryRun,
        onEvent: pullReporter({
          tty: process.stderr.isTTY === true,
          json: ctx.args.globals.json,
          write: (s) => process.stderr.write(s),
          out: (s) => process.stderr.write(`${s}\n`),
        }),
      });
      const cur = m.currentGeneration(config.stateDir);
      const { rotated } = dryRun ? m.startValues(config, { dryRun }) : { rotated: [] };
      if (dryRun) diff = await diffFromCurrent(config, g, rotated);
      if (dryRun && g.created) return unwrittenPlan(m, config.stateDir, cur, g, rotated);
      return transactFor(m, ctx, config, g.generation, {
        dryRun,
        settle,
        rollback: ctx.args.flags["no-rollback"] !== true,
        mark: true,
      });
    });
    if (r.reason !== undefined)
      await tellSomeone(m, ctx, config, {
        event: "switch-failed",
        generation: r.to,
        services: r.failedServices ?? [],
        reason: r.reason,
      });
    return report(ctx, diff ? { ...r, diff } : r, dryRun);
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
    const [config, m] = await Promise.all([loadFor(ctx, "rollback"), switchModules()]);
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
      const good = (n: number) => m.readFailed(config.stateDir, n) === undefined;
      let target: number | undefined;
      if (typeof to === "string") {
        target = Number(to);
        if (!all.includes(target))
          throw new GenerationNotFoundError(
            `generation ${target} does not exist. generations: ${all.join(", ") || "(none)"}`,
            target,
          );
      } else if (pending?.rollingBackFrom !== undefined) target = pending.to;
      else if (pending?.from !== undefined && good(pending.from)) target = pending.from;
      else target = [...all].reverse().find((n) => cur !== undefined && n < cur && good(n));
      if (target === undefined)
        throw new GenerationNotFoundError(
          `there is no generation before ${cur ?? "(none)"} that did not fail, to roll back to. see railyard generations; --to N picks one`,
          (cur ?? 0) - 1,
        );
      return transactFor(m, ctx, config, target, { dryRun, settle, rollback: false, mark: false });
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
    const [loaded, m] = await Promise.all([loadFor(ctx, "down"), switchModules()]);
    const dryRun = ctx.args.flags["dry-run"] === true;
    if (!dryRun) m.requireSystemd("railyard down", loaded.rootless);
    // The config without its containers (and so without the onFailure unit they name).
    const { onFailure, ...rest } = loaded;
    const config: ResolvedConfig = Object.freeze({ ...rest, containers: {} });
    const runtime = m.chooseRuntime(config.runtime, m.hostProbe(ctx.env));
    let cur: number | undefined;
    const r = await m.withSwitchLock(config.stateDir, async () => {
      cur = m.currentGeneration(config.stateDir);
      const running = cur === undefined ? {} : m.readManifest(config.stateDir, cur).services;
      if (Object.keys(running).length === 0) return undefined;
      const g = await m.buildGeneration(config, runtime, {
        log: ctx.debug,
        warn: ctx.info,
        env: ctx.env,
        write: !dryRun,
      });
      if (dryRun && g.created) return unwrittenPlan(m, config.stateDir, cur, g, []);
      return transactFor(m, ctx, config, g.generation, {
        dryRun,
        settle: 0,
        rollback: false,
        mark: false,
      });
    });
    if (r === undefined) {
      // Nothing of this config runs: no new generation, nothing changed.
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
