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

/** One started unit and how long it must stay up. */
export interface SettleWatch {
  readonly unit: string;
  readonly ms: number;
}

/**
 * Watch units that were just started, all at once, each for its own settle time: resolves with
 * the ones that died in their time (each once, in the order given). A container that dies within
 * its first seconds has a cause worth showing at once; one that dies later is systemd's to
 * restart. The whole watch takes the longest settle time, not their sum.
 */
export async function watchSettle(
  systemctl: Systemctl,
  watches: readonly SettleWatch[],
  sleep: (ms: number) => Promise<void> = (t) => new Promise((r) => setTimeout(r, t)),
  now: () => number = Date.now,
): Promise<string[]> {
  if (watches.length === 0) return [];
  const t0 = now();
  const first = await states(
    systemctl,
    watches.map((w) => w.unit),
  );
  const dead = new Set(watches.filter((_, i) => first[i] && died(first[i], first[i])));
  // Wall time, not a count of sleeps: each look at 100 units takes a while itself.
  for (;;) {
    const open = watches.filter((w) => w.ms > now() - t0 && !dead.has(w));
    if (open.length === 0) break;
    await sleep(POLL_MS);
    const seen = await states(
      systemctl,
      open.map((w) => w.unit),
    );
    open.forEach((w, i) => {
      const was = first[watches.indexOf(w)];
      const is = seen[i];
      if (was && is && died(was, is)) dead.add(w);
    });
  }
  return watches.filter((w) => dead.has(w)).map((w) => w.unit);
}
