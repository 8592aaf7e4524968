/**
 * switch, rollback and down as a library: each builds or picks a generation, activates it under
 * the state dir's lock with real systemctl, watches it settle, undoes a switch that does not, and
 * tells onFailure. The CLI parses flags and prints what these return (cli/switch.ts).
 */
import type { ResolvedConfig } from "../model/types.js";
import { idScopeOf } from "../model/ids.js";
import { effectiveCapabilities } from "../model/capabilities.js";
import { GenerationNotFoundError } from "../errors.js";
import { chooseRuntime, hostProbe } from "../host/detect.js";
import { diagnose } from "../runtime/diagnose.js";
import { logMatches } from "../systemd/journal.js";
import { failureEnv, onFailureArgv, type FailureEvent } from "../systemd/notify.js";
import { requireSystemd, Systemctl } from "../systemd/systemctl.js";
import type { PullEvent } from "../image/pull.js";
import { exec } from "../util/exec.js";
import { buildGeneration } from "./build.js";
import type { ServiceDiff } from "./diff.js";
import { planSwitch, type GenerationManifest } from "./manifest.js";
import { withRestarts, withSwitchLock } from "./activate.js";
import { eventLine, journalIdentifier } from "./events.js";
import { readSecretValues, recordSecrets, startValues } from "./secret-digests.js";
import { DEFAULT_SETTLE_MS } from "./settle.js";
import { diffFromCurrent } from "./snapshots.js";
import {
  currentGeneration,
  listGenerations,
  readFailed,
  readGenerationConfig,
  readJournal,
  readManifest,
  type Journal,
} from "./store.js";
import { transact, type TransactionResult } from "./transaction.js";

/** What the library needs from its caller: the environment, and where its words go. */
export interface SwitchIo {
  readonly env: NodeJS.ProcessEnv;
  /** The verb, for the journal's line: "switch", "rollback", "update", "down". */
  readonly command: string;
  /** Diagnostics (--verbose). */
  readonly debug: (line: string) => void;
  /** What the user should see at once: a failed service's last lines, a hook's failure. */
  readonly info: (line: string) => void;
  /** Machine output: the failed services' lines are left to `railyard logs`. */
  readonly json: boolean;
  /** Pull and build progress. */
  readonly onEvent?: (e: PullEvent) => void;
}

/**
 * Each service's settle time: the flag for all, else the container's `settle`, else the default
 * (a service with a healthcheck has settled once healthy, which its start already waited for).
 */
function settleFor(
  config: ResolvedConfig | undefined,
  flag: number | undefined,
): (name: string) => number {
  return (n) => {
    if (flag !== undefined) return flag;
    const c = config?.containers[n];
    return c?.settle ?? (c?.healthcheck ? 0 : DEFAULT_SETTLE_MS);
  };
}

/** Say each failed service's last journal lines and what they point to. */
async function explain(
  io: SwitchIo,
  config: ResolvedConfig,
  units: (n: string) => string,
  names: readonly string[],
): Promise<void> {
  if (io.json) return;
  for (const n of names) {
    const j = await exec("journalctl", [
      ...logMatches(units(n), config.rootless),
      "--no-pager",
      "-o",
      "cat",
      "-n",
      "15",
    ]);
    const lines = j.stdout.split("\n").filter((l) => l !== "");
    if (lines.length === 0) io.info(`${n} did not stay up, and wrote nothing to its journal`);
    else io.info(`${n} did not stay up. its last lines:`);
    for (const l of lines) io.info(`  | ${l}`);
    const c = config.containers[n];
    if (c) for (const h of diagnose(lines, c, effectiveCapabilities(c))) io.info(`hint: ${h}`);
  }
}

/** A test aid: RAILYARD_CRASH_AT=<step> makes activation SIGKILL itself after that step. */
function crashHook(env: NodeJS.ProcessEnv): ((step: string) => void) | undefined {
  const at = env["RAILYARD_CRASH_AT"];
  return at ? (s) => (s === at ? process.kill(process.pid, "SIGKILL") : undefined) : undefined;
}

/** Run `onFailure` for a failed switch or update, and say so when it fails itself. */
export async function runOnFailure(
  io: SwitchIo,
  config: ResolvedConfig,
  event: FailureEvent,
): Promise<void> {
  if (config.onFailure === undefined) return;
  const [cmd, ...args] = onFailureArgv(config.onFailure);
  const r = await exec(cmd as string, args, {
    env: { ...io.env, ...failureEnv(event) },
    signal: AbortSignal.timeout(60_000),
    // What it leaves running (a notifier in the background) never holds the switch open.
    group: true,
  }).catch((e: Error) => ({ code: -1, stderr: e.message, stdout: "" }));
  if (r.code !== 0)
    io.info(
      `onFailure exited ${r.code}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" / ")}`,
    );
  else io.debug("onFailure ran");
}

/**
 * Activate generation `to` with real systemctl and the host's unit dir, then watch what started
 * settle; `rollback` undoes a switch whose services do not. The caller holds the switch lock.
 */
export async function activateGeneration(
  io: SwitchIo,
  config: ResolvedConfig,
  to: number,
  o: { dryRun: boolean; settle: number | undefined; rollback: boolean; mark: boolean },
): Promise<TransactionResult> {
  const hook = crashHook(io.env);
  const rootless = config.rootless;
  // activate picks the manager's own unit dir; the variable overrides it (tests).
  const unitDir = io.env["RAILYARD_UNIT_DIR"];
  const systemctl = new Systemctl(undefined, rootless);
  // The settle times of the generation being started, as its own config gave them.
  const target = o.dryRun ? undefined : readGenerationConfig(config.stateDir, to);
  const manifest = o.dryRun ? undefined : readManifest(config.stateDir, to);
  // A secret or environmentFiles value changed since its services started restarts them,
  // changed generation or not.
  const { digests, rotated } = startValues(target ?? config, { dryRun: o.dryRun });
  if (rotated.length > 0)
    io.debug(`secrets or environmentFiles changed for: ${rotated.join(", ")}`);
  const r = await transact(config.stateDir, to, {
    systemctl,
    ...(unitDir !== undefined ? { unitDir } : {}),
    ...(rootless ? { rootless } : {}),
    scope: idScopeOf(config),
    dryRun: o.dryRun,
    log: io.debug,
    ...(hook ? { step: hook } : {}),
    settleFor: settleFor(target ?? config, o.settle),
    rollback: o.rollback,
    mark: o.mark,
    alsoRestart: rotated,
    onFailed: (names) =>
      explain(
        io,
        target ?? config,
        (n) => manifest?.services[n]?.unit ?? `railyard-${n}.service`,
        names,
      ),
  });
  if (!o.dryRun) {
    const back = r.rolledBack?.plan;
    const started = [r.plan, ...(back ? [back] : [])].flatMap((p) => [...p.start, ...p.restart]);
    recordSecrets(config.stateDir, digests, started);
    const note = eventLine(io.command, r);
    // For railyard events: the journal keeps what each switch did, beside the services' own lines.
    if (note)
      await exec("systemd-cat", ["-t", journalIdentifier(config), "--", "echo", note]).catch(() =>
        io.debug("the journal did not take the switch's line"),
      );
  }
  return r;
}

/**
 * A dry run's result when the generation was not written (it differs from every one on disk):
 * the plan against the current generation, worked out by hand, as activate would.
 */
function unwrittenPlan(
  stateDir: string,
  cur: number | undefined,
  g: { readonly generation: number; readonly manifest: GenerationManifest },
  rotated: readonly string[],
): TransactionResult {
  const from = cur !== undefined ? readManifest(stateDir, cur) : undefined;
  return {
    from: cur,
    to: g.generation,
    plan: withRestarts(planSwitch(from, g.manifest), rotated),
    failed: [],
    died: [],
  };
}

/** What switch did, with the per-field diff of a dry run. */
export type SwitchResult = TransactionResult & { readonly diff?: readonly ServiceDiff[] };

/**
 * `railyard switch`: build a generation from the config and make it the running one; a switch
 * whose services do not settle goes back (unless `rollback` is false) and tells onFailure.
 */
export async function switchConfig(
  io: SwitchIo,
  config: ResolvedConfig,
  o: { dryRun: boolean; settle: number | undefined; rollback: boolean },
): Promise<SwitchResult> {
  readSecretValues(config); // a missing secret file is a config error before anything is built
  if (!o.dryRun) requireSystemd("railyard switch", config.rootless);
  const runtime = chooseRuntime(config.runtime, hostProbe(io.env));
  io.debug(`runtime: ${runtime.name} (${runtime.reason})`);
  let diff: readonly ServiceDiff[] | undefined;
  const r = await withSwitchLock(config.stateDir, async () => {
    const g = await buildGeneration(config, runtime, {
      log: io.debug,
      warn: io.info,
      env: io.env,
      write: !o.dryRun,
      ...(io.onEvent ? { onEvent: io.onEvent } : {}),
    });
    const cur = currentGeneration(config.stateDir);
    const { rotated } = o.dryRun ? startValues(config, { dryRun: true }) : { rotated: [] };
    if (o.dryRun) diff = await diffFromCurrent(config, g, rotated);
    if (o.dryRun && g.created) return unwrittenPlan(config.stateDir, cur, g, rotated);
    return activateGeneration(io, config, g.generation, { ...o, mark: true });
  });
  if (r.reason !== undefined)
    await runOnFailure(io, config, {
      event: "switch-failed",
      generation: r.to,
      services: r.failedServices ?? [],
      reason: r.reason,
    });
  return diff ? { ...r, diff } : r;
}

/**
 * The generation a rollback goes to. Pure. `to` when given (it must exist); after an interrupted
 * automatic rollback, the one it was going back to; after an interrupted switch, the one it was
 * leaving, if that did not fail; else the newest before the current one that did not fail.
 * Undefined when there is none.
 */
export function rollbackTarget(s: {
  readonly all: readonly number[];
  readonly current: number | undefined;
  readonly pending: Pick<Journal, "from" | "to" | "rollingBackFrom"> | undefined;
  readonly failed: (n: number) => boolean;
  readonly to?: number;
}): number | undefined {
  if (s.to !== undefined) return s.all.includes(s.to) ? s.to : undefined;
  if (s.pending?.rollingBackFrom !== undefined) return s.pending.to;
  if (s.pending?.from !== undefined && !s.failed(s.pending.from)) return s.pending.from;
  const cur = s.current;
  return [...s.all].reverse().find((n) => cur !== undefined && n < cur && !s.failed(n));
}

/** `railyard rollback`: activate an earlier generation (rollbackTarget), exactly as it was. */
export async function rollbackConfig(
  io: SwitchIo,
  config: ResolvedConfig,
  o: { to?: number; dryRun: boolean; settle: number | undefined },
): Promise<TransactionResult> {
  if (!o.dryRun) requireSystemd("railyard rollback", config.rootless);
  return withSwitchLock(config.stateDir, async () => {
    const all = listGenerations(config.stateDir);
    const cur = currentGeneration(config.stateDir);
    const target = rollbackTarget({
      all,
      current: cur,
      pending: readJournal(config.stateDir),
      failed: (n) => readFailed(config.stateDir, n) !== undefined,
      ...(o.to !== undefined ? { to: o.to } : {}),
    });
    if (target === undefined && o.to !== undefined)
      throw new GenerationNotFoundError(
        `generation ${o.to} does not exist. generations: ${all.join(", ") || "(none)"}`,
        o.to,
      );
    if (target === undefined)
      throw new GenerationNotFoundError(
        `there is no generation before ${cur ?? "(none)"} that did not fail, to roll back to. see railyard generations; --to N picks one`,
        (cur ?? 0) - 1,
      );
    return activateGeneration(io, config, target, {
      dryRun: o.dryRun,
      settle: o.settle,
      rollback: false,
      mark: false,
    });
  });
}

/**
 * `railyard down`: switch to a generation with no containers, so every service of the config
 * stops and its units go; `{ current }` alone when nothing of the config runs.
 */
export async function downConfig(
  io: SwitchIo,
  loaded: ResolvedConfig,
  o: { dryRun: boolean },
): Promise<TransactionResult | { readonly current: number | undefined }> {
  if (!o.dryRun) requireSystemd("railyard down", loaded.rootless);
  // The config without its containers (and so without the onFailure unit they name).
  const { onFailure: _onFailure, ...rest } = loaded;
  const config: ResolvedConfig = Object.freeze({ ...rest, containers: {} });
  const runtime = chooseRuntime(config.runtime, hostProbe(io.env));
  return withSwitchLock(config.stateDir, async () => {
    const cur = currentGeneration(config.stateDir);
    const running = cur === undefined ? {} : readManifest(config.stateDir, cur).services;
    if (Object.keys(running).length === 0) return { current: cur };
    const g = await buildGeneration(config, runtime, {
      log: io.debug,
      warn: io.info,
      env: io.env,
      write: !o.dryRun,
    });
    if (o.dryRun && g.created) return unwrittenPlan(config.stateDir, cur, g, []);
    return activateGeneration(io, config, g.generation, {
      dryRun: o.dryRun,
      settle: 0,
      rollback: false,
      mark: false,
    });
  });
}
