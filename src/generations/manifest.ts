/** Generations: what one describes, and the plan for switching between two. Pure. */

export interface ServiceEntry {
  readonly unit: string;
  /**
   * Units that belong to this service, installed with it: its healthcheck's timer and service,
   * and the socket and proxy of each port on [::1].
   */
  readonly extraUnits?: readonly string[];
  /** sha256 of the rendered unit file. */
  readonly unitHash: string;
  /** The bundle directory's name under <stateDir>/bundles (content-named). */
  readonly bundle: string;
  readonly fingerprint: string;
  readonly image?: string;
  readonly autoStart: boolean;
}

/** Whether a service has a healthcheck: its extra units include the check's timer. */
export const hasHealthcheck = (e: Pick<ServiceEntry, "extraUnits"> | undefined): boolean =>
  e?.extraUnits?.some((u) => u.endsWith("-health.timer")) ?? false;

export interface GenerationManifest {
  readonly generation: number;
  readonly created: string;
  readonly configFile: string;
  /** sha256 of the resolved config. */
  readonly configHash: string;
  readonly runtime: string;
  readonly services: Readonly<Record<string, ServiceEntry>>;
  /** Units of the generation as a whole (the onFailure template), linked with the services'. */
  readonly units?: readonly string[];
}

/** Two generations run the same services the same way (numbers and times aside). */
export function sameContent(a: GenerationManifest, b: GenerationManifest): boolean {
  return (
    a.runtime === b.runtime &&
    a.configHash === b.configHash &&
    JSON.stringify(a.units ?? []) === JSON.stringify(b.units ?? []) &&
    JSON.stringify(a.services) === JSON.stringify(b.services)
  );
}

/** Service names (`web`, `db`), each a unit of the generation. */
type ServiceNames = readonly string[];

export interface SwitchPlan {
  /** New services that start now (autoStart). */
  readonly start: ServiceNames;
  /** Services whose unit or bundle changed. */
  readonly restart: ServiceNames;
  /** Services no longer in the target generation. */
  readonly stop: ServiceNames;
  /** Services whose unit and bundle are byte for byte the same: left running, untouched. */
  readonly unchanged: ServiceNames;
  /** New services without autoStart: installed, not started. */
  readonly installed: ServiceNames;
}

const changed = (a: ServiceEntry, b: ServiceEntry) =>
  a.unitHash !== b.unitHash || a.fingerprint !== b.fingerprint || a.unit !== b.unit;

/**
 * What switching to `to` does to each service. `from` is the generation the host runs; after an
 * interrupted switch, `also` are the others it may run a mix of, so a service that differs from
 * any of them is restarted.
 */
export function planSwitch(
  from: GenerationManifest | undefined,
  to: GenerationManifest,
  also: readonly GenerationManifest[] = [],
): SwitchPlan {
  const olds = [from, ...also].filter((g): g is GenerationManifest => g !== undefined);
  const start: string[] = [];
  const restart: string[] = [];
  const unchanged: string[] = [];
  const installed: string[] = [];
  for (const [name, s] of Object.entries(to.services).sort(([a], [b]) => a.localeCompare(b))) {
    const before = olds
      .map((g) => g.services[name])
      .filter((x): x is ServiceEntry => x !== undefined);
    if (before.length === 0) (s.autoStart ? start : installed).push(name);
    else if (before.some((b) => changed(b, s)) || before.length < olds.length) restart.push(name);
    else unchanged.push(name);
  }
  const stop = [...new Set(olds.flatMap((g) => Object.keys(g.services)))]
    .filter((n) => !(n in to.services))
    .sort();
  return { start, restart, stop, unchanged, installed };
}
