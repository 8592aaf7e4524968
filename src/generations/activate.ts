import { mkdirSync, rmSync } from "node:fs";
import { writeFileAtomic } from "../util/atomic.js";
import type { RootlessScope } from "../model/types.js";
import { ConcurrentSwitchError, UnitConflictError } from "../errors.js";
import { bootTarget } from "../rootless/scope.js";
import { exec } from "../util/exec.js";
import { containerId, type IdScope } from "../model/ids.js";
import { clearStaleContainer } from "../runtime/run.js";
import { DEFAULT_UNIT_DIR, syncUnitLinks, unitConflicts } from "../systemd/install.js";
import type { Systemctl } from "../systemd/systemctl.js";
import { tryLock } from "../util/lockfile.js";
import { planSwitch, type GenerationManifest, type SwitchPlan } from "./manifest.js";
import { publishGenerationHosts } from "../network/files.js";
import {
  currentGeneration,
  generationDir,
  journalFile,
  journalGenerations,
  readJournal,
  markFailed,
  readManifest,
  setCurrent,
  switchLockFile,
  type Journal,
} from "./store.js";

/** Hold the state directory's switch lock for `f`; a second switch fails at once. */
export async function withSwitchLock<T>(stateDir: string, f: () => Promise<T>): Promise<T> {
  mkdirSync(stateDir, { recursive: true, mode: 0o755 });
  const lock = switchLockFile(stateDir);
  const r = await tryLock(lock);
  if (typeof r !== "function")
    throw new ConcurrentSwitchError(
      `another railyard switch, rollback, build or gc (${r > 0 ? `pid ${r}` : "a process that just took it"}) holds ${lock}; wait for it to finish`,
      r,
    );
  try {
    return await f();
  } finally {
    await r();
  }
}

function writeJournal(stateDir: string, j: Journal): void {
  writeFileAtomic(journalFile(stateDir), JSON.stringify(j));
}

export interface ActivateOptions {
  readonly systemctl: Systemctl;
  /** Where units are linked; the default is the manager's (the system's, or the user's). */
  readonly unitDir?: string;
  /** `railyard --user`: the user manager's units and boot target, and runc's state root. */
  readonly rootless?: RootlessScope;
  readonly dryRun?: boolean;
  readonly log?: (m: string) => void;
  /** What the config's runtime ids carry (its project, its state dir's scope). */
  readonly scope?: IdScope;
  /** Test hook: called after each named step, so tests can kill the process there. */
  readonly step?: (name: string) => void;
  /** Services to restart even though their unit and bundle did not change (a rotated secret). */
  readonly alsoRestart?: readonly string[];
  /** Recorded in the journal while a failed switch goes back: the generation that failed. */
  readonly rollingBackFrom?: number;
}

export interface ActivationResult {
  readonly from: number | undefined;
  readonly to: number;
  readonly plan: SwitchPlan;
  /** Units that did not start (the generation is still current; see railyard status). */
  readonly failed: readonly string[];
}

const unitsOf = (names: readonly string[], ...gens: (GenerationManifest | undefined)[]) => [
  ...new Set(
    names.map(
      (n) =>
        gens.map((g) => g?.services[n]?.unit).find((u) => u !== undefined) ??
        `railyard-${n}.service`,
    ),
  ),
];

/**
 * Refuse a generation whose units the unit directory has from another railyard project, or from
 * outside railyard (unitConflicts): linking them would take a running service from its owner.
 * Checked before anything changes, so the host stays on its generation.
 */
function refuseTakenUnits(
  unitDir: string,
  stateDir: string,
  target: GenerationManifest,
  mark: boolean,
): void {
  const container = new Map<string, string>();
  for (const [name, s] of Object.entries(target.services))
    for (const u of [s.unit, ...(s.extraUnits ?? [])]) container.set(u, name);
  const taken = unitConflicts(unitDir, stateDir, [...container.keys(), ...(target.units ?? [])]);
  if (taken.length === 0) return;
  const lines = taken.map((c) => {
    const name = container.get(c.unit);
    const whose = c.project
      ? `another railyard project's (state dir ${c.project})`
      : `not railyard's (${c.found ?? "unknown"})`;
    return `${c.unit}${name ? ` (container ${name})` : ""} in ${unitDir} is ${whose}`;
  });
  const names = [...new Set(taken.map((c) => container.get(c.unit)).filter((n) => n))];
  // A new generation that never ran is marked, so generations does not show it as a good one.
  if (mark)
    markFailed(stateDir, target.generation, {
      at: new Date().toISOString(),
      reason: `refused: ${taken.map((c) => c.unit).join(", ")} ${taken.length > 1 ? "are" : "is"} another project's or not railyard's`,
      services: names as string[],
    });
  throw new UnitConflictError(
    `${lines.join("\n")}\na unit name is one service per host: ${
      names.length > 0
        ? `give this config a project name (project: "NAME" names its units railyard-NAME-*), give ${names.join(", ")} another serviceName, or remove ${names.length > 1 ? "them" : "it"} from the other project first (and switch that one)`
        : "move that unit away"
    }. nothing was changed`,
    taken.map((c) => c.unit),
  );
}

/**
 * Make generation `to` the running one. Crash-safe: a journal names every generation the host
 * may run a mix of, and running any switch or rollback again completes or redoes the activation
 * from the journal. Steps: stop removed services; flip `current`; relink the units;
 * daemon-reload; restart the changed and start the new services. The journal stays: the caller
 * drops it (`endActivation`) once the started services have settled, or rolls back through it.
 */
export async function activate(
  stateDir: string,
  to: number,
  o: ActivateOptions,
): Promise<ActivationResult> {
  const pending = readJournal(stateDir);
  const current = currentGeneration(stateDir);
  const target = readManifest(stateDir, to);
  const unitDir = o.unitDir ?? o.rootless?.unitDir ?? DEFAULT_UNIT_DIR;
  refuseTakenUnits(unitDir, stateDir, target, !o.dryRun && (current === undefined || to > current));
  const fromN = pending ? pending.from : current;
  const from = fromN !== undefined ? readManifest(stateDir, fromN) : undefined;
  // After an interrupted switch the host may run a mix of the journal's generations.
  const running = pending ? journalGenerations(pending) : fromN !== undefined ? [fromN] : [];
  const also = running.filter((n) => n !== fromN).map((n) => readManifest(stateDir, n));
  const plan = withRestarts(planSwitch(from, target, also), o.alsoRestart ?? []);
  if (o.dryRun) return { from: fromN, to, plan, failed: [] };
  if (
    !pending &&
    current === to &&
    plan.start.length === 0 &&
    plan.restart.length === 0 &&
    plan.stop.length === 0
  )
    return { from: current, to, plan, failed: [] };

  const step = o.step ?? (() => {});
  writeJournal(stateDir, {
    from: fromN,
    to,
    running: [...new Set([...running, to])],
    ...(o.rollingBackFrom !== undefined ? { rollingBackFrom: o.rollingBackFrom } : {}),
  });
  step("journal");
  if (plan.stop.length > 0) {
    o.log?.(`stopping ${plan.stop.join(", ")}`);
    const gone = unitsOf(plan.stop, from, ...also);
    await o.systemctl.tryCall(["stop", ...gone]);
    // A removed service that did not stop cleanly must not linger as "failed".
    await o.systemctl.tryCall(["reset-failed", ...gone]);
  }
  step("stopped");
  setCurrent(stateDir, to);
  // Named networks' members see the new generation's peers by name, restarted or not.
  publishGenerationHosts(generationDir(stateDir, to));
  step("flipped");
  syncUnitLinks(
    unitDir,
    stateDir,
    [
      ...Object.values(target.services),
      ...(target.units ?? []).map((unit) => ({ unit, autoStart: false })),
    ],
    bootTarget(o.rootless),
  );
  await o.systemctl.call(["daemon-reload"]);
  step("reloaded");
  const failed: string[] = [];
  const run = async (verb: string, names: readonly string[]) => {
    if (names.length === 0) return;
    o.log?.(`${verb} ${names.join(", ")}`);
    const units = unitsOf(names, target);
    const r = await o.systemctl.tryCall([verb, ...units]);
    if (!r.ok) {
      // Find which units did not make it, for the report.
      // Waiting to be restarted after the failed start counts as failed too.
      const states = await o.systemctl.show(units, ["Id", "ActiveState", "SubState"]);
      failed.push(
        ...states
          .filter(
            (s) =>
              s["ActiveState"] !== "active" &&
              (s["ActiveState"] !== "activating" || s["SubState"] === "auto-restart"),
          )
          .map((s) => s["Id"] ?? ""),
      );
    }
  };
  const autoRestart = plan.restart.filter((n) => target.services[n]?.autoStart);
  // A unit that systemd gave up on (its start limit) would refuse the restart.
  if (plan.restart.length > 0)
    await o.systemctl.tryCall(["reset-failed", ...unitsOf(plan.restart, target)]);
  await run("restart", autoRestart);
  await run(
    "try-restart",
    plan.restart.filter((n) => !autoRestart.includes(n)),
  );
  // No ExecStartPre clears the runtime's state (one process less on every start, see
  // docs/decisions/11): ExecStopPost does after every stop, and here a new service's id is freed
  // from whatever a killed `railyard run` left behind. Only services with a bundle run under the
  // OCI runtime; podman and docker services (no bundle) clear their own names in their units.
  for (const n of plan.start)
    if (target.services[n]?.bundle)
      await clearStaleContainer(target.runtime, containerId(n, o.scope), exec, o.rootless);
  await run("start", plan.start);
  step("started");
  return { from: fromN, to, plan, failed };
}

/** The plan with `names` moved from unchanged to restart (services the plan leaves running). */
export function withRestarts(plan: SwitchPlan, names: readonly string[]): SwitchPlan {
  const more = names.filter((n) => plan.unchanged.includes(n));
  if (more.length === 0) return plan;
  return {
    ...plan,
    restart: [...plan.restart, ...more].sort(),
    unchanged: plan.unchanged.filter((n) => !more.includes(n)),
  };
}

/** The switch is over (settled, kept as failed, or rolled back): drop its journal. */
export function endActivation(stateDir: string): void {
  rmSync(journalFile(stateDir), { force: true });
}
