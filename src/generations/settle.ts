import type { Systemctl } from "../systemd/systemctl.js";

/** How long a started service must stay up before switch calls it started. */
export const DEFAULT_SETTLE_MS = 3000;
const POLL_MS = 250;

/** One unit's state, as `systemctl show` gives it. */
export interface UnitState {
  readonly id: string;
  readonly activeState: string;
  readonly subState: string;
  readonly restarts: number;
  /** systemd's Result: "success" after a clean exit. */
  readonly result: string;
}

/**
 * A unit has died since `before` when it failed, waits to be restarted, was restarted (the
 * restart count grew), or stopped without success. A clean exit of a job-like container is not a
 * death. Pure.
 */
export function died(before: UnitState, now: UnitState): boolean {
  return (
    now.activeState === "failed" ||
    now.subState === "auto-restart" ||
    now.restarts > before.restarts ||
    (now.activeState === "inactive" && now.result !== "success")
  );
}

async function states(systemctl: Systemctl, units: readonly string[]): Promise<UnitState[]> {
  const rows = await systemctl.show(units, [
    "Id",
    "ActiveState",
    "SubState",
    "NRestarts",
    "Result",
  ]);
  return rows.map((r) => ({
    id: r["Id"] ?? "",
    activeState: r["ActiveState"] ?? "",
    subState: r["SubState"] ?? "",
    restarts: Number(r["NRestarts"] ?? 0),
    result: r["Result"] ?? "",
  }));
}

/**
 * Watch units that were just started, all at once, for `ms`: resolves with the ones that died
 * in that time (each once, in the order given). A container that dies within its first seconds
 * has a cause worth showing at once; one that dies later is systemd's to restart.
 */
export async function watchSettle(
  systemctl: Systemctl,
  units: readonly string[],
  ms: number = DEFAULT_SETTLE_MS,
  sleep: (ms: number) => Promise<void> = (t) => new Promise((r) => setTimeout(r, t)),
): Promise<string[]> {
  if (units.length === 0 || ms <= 0) return [];
  const first = await states(systemctl, units);
  const dead = new Set(first.filter((s) => died(s, s)).map((s) => s.id));
  for (let waited = 0; waited < ms && dead.size < units.length; waited += POLL_MS) {
    await sleep(POLL_MS);
    const now = await states(systemctl, units);
    now.forEach((s, i) => {
      const was = first[i];
      if (was && died(was, s)) dead.add(s.id);
    });
  }
  return units.filter((u) => dead.has(u));
}
