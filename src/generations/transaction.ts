/**
 * A switch as a transaction: activate a generation, watch what it started settle, and when a
 * service does not, go back to the generation the host left, through the same journal. Every
 * step is crash-safe: until the journal is dropped, any later switch or rollback plans against
 * every generation it names (see activate.ts), so a SIGKILL at any point still converges.
 */
import {
  activate,
  endActivation,
  type ActivateOptions,
  type ActivationResult,
} from "./activate.js";
import type { SwitchPlan } from "./manifest.js";
import { watchSettle } from "./settle.js";
import { clearFailed, markFailed, readManifest } from "./store.js";

export interface TransactionOptions extends ActivateOptions {
  /** How long a started service must stay up, in ms (0: only that its start succeeded). */
  readonly settleFor: (name: string) => number;
  /** Go back when a service does not settle (switch); false keeps the generation. */
  readonly rollback: boolean;
  /** Record a failure on the generation (and clear an old record once it settles). */
  readonly mark: boolean;
  /** Called with the failed services before anything is undone, to show their last lines. */
  readonly onFailed?: (names: readonly string[]) => Promise<void>;
}

export interface TransactionResult extends ActivationResult {
  /** Units that started but did not stay up for their settle time. */
  readonly died: readonly string[];
  /** Why the switch failed, in one line (unset when it did not). */
  readonly reason?: string;
  /** The services that failed to start or did not stay up, by name. */
  readonly failedServices?: readonly string[];
  /** Set when the switch was undone: the generation that is current again and what that did. */
  readonly rolledBack?: {
    readonly to: number;
    readonly plan: SwitchPlan;
    readonly failed: readonly string[];
  };
  /** A failed first switch has nothing to go back to: these services were stopped instead. */
  readonly stopped?: readonly string[];
}

/** "db failed to start; web did not stay up for 3 s" */
function describeFailure(
  failedToStart: readonly string[],
  died: readonly string[],
  settleFor: (n: string) => number,
): string {
  const parts: string[] = [];
  if (failedToStart.length > 0) parts.push(`${failedToStart.join(", ")} failed to start`);
  for (const n of died)
    parts.push(
      settleFor(n) > 0
        ? `${n} did not stay up for ${settleFor(n) / 1000} s`
        : `${n} died as it started`,
    );
  return parts.join("; ");
}

export async function transact(
  stateDir: string,
  to: number,
  o: TransactionOptions,
): Promise<TransactionResult> {
  const step = o.step ?? (() => {});
  const r = await activate(stateDir, to, o);
  if (o.dryRun) return { ...r, died: [] };
  const target = readManifest(stateDir, to);
  const unitOf = (n: string) => target.services[n]?.unit ?? `railyard-${n}.service`;
  const started = [...r.plan.start, ...r.plan.restart].filter(
    (n) => target.services[n]?.autoStart && !r.failed.includes(unitOf(n)),
  );
  const died = await watchSettle(
    o.systemctl,
    started.map((n) => ({ unit: unitOf(n), ms: o.settleFor(n) })),
  );
  step("settled");
  const names = Object.keys(target.services);
  const failedToStart = names.filter((n) => r.failed.includes(unitOf(n)));
  const diedNames = names.filter((n) => died.includes(unitOf(n)));
  const bad = [...failedToStart, ...diedNames];
  if (bad.length === 0) {
    if (o.mark) clearFailed(stateDir, to);
    endActivation(stateDir);
    return { ...r, died };
  }
  const reason = describeFailure(failedToStart, diedNames, o.settleFor);
  await o.onFailed?.(bad);
  if (o.mark) markFailed(stateDir, to, { at: new Date().toISOString(), reason, services: bad });
  step("marked");
  if (!o.rollback) {
    endActivation(stateDir);
    return { ...r, died, reason, failedServices: bad };
  }
  const back = r.from;
  if (back === undefined || back === to) {
    // Nothing to go back to: what failed must not crash-loop on. The rest keeps running.
    const units = bad.map(unitOf);
    o.log?.(`stopping ${bad.join(", ")}`);
    await o.systemctl.tryCall(["stop", ...units]);
    await o.systemctl.tryCall(["reset-failed", ...units]);
    endActivation(stateDir);
    return { ...r, died, reason, failedServices: bad, stopped: bad };
  }
  const undo = await activate(stateDir, back, {
    ...o,
    alsoRestart: [],
    rollingBackFrom: to,
    step: (s) => step(`rollback-${s}`),
  });
  endActivation(stateDir);
  return {
    ...r,
    died,
    reason,
    failedServices: bad,
    rolledBack: { to: back, plan: undo.plan, failed: undo.failed },
  };
}
