import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { replaceSymlink } from "../util/atomic.js";

export const DEFAULT_UNIT_DIR = "/etc/systemd/system";

export interface InstalledService {
  readonly unit: string;
  /** Linked too, but never wanted by a target: the service starts them. */
  readonly extraUnits?: readonly string[];
  readonly autoStart: boolean;
}

function linkTo(path: string, target: string): void {
  let current: string | undefined;
  try {
    current = readlinkSync(path);
  } catch {
    current = undefined;
  }
  if (current !== target) replaceSymlink(target, path);
}

/**
 * Make the unit directory match a generation: each unit is a link through `<stateDir>/current`
 * (so flipping `current` swaps every unit file at once), enabled ones get a `<target>.wants`
 * link (multi-user.target; default.target for a user manager), and railyard's links for services
 * no longer there are removed. Only links that point into this state directory are ever touched.
 */
export function syncUnitLinks(
  unitDir: string,
  stateDir: string,
  services: readonly InstalledService[],
  target = "multi-user.target",
): { removed: string[] } {
  const prefix = join(stateDir, "current", "units");
  const wants = join(unitDir, `${target}.wants`);
  mkdirSync(wants, { recursive: true });
  const keep = new Set(services.flatMap((s) => [s.unit, ...(s.extraUnits ?? [])]));
  for (const s of services) {
    for (const u of s.extraUnits ?? []) linkTo(join(unitDir, u), join(prefix, u));
    linkTo(join(unitDir, s.unit), join(prefix, s.unit));
    if (s.autoStart) linkTo(join(wants, s.unit), `../${s.unit}`);
    else rmSync(join(wants, s.unit), { force: true });
  }
  const removed: string[] = [];
  for (const name of readdirSync(unitDir)) {
    const p = join(unitDir, name);
    if (keep.has(name) || !lstatSync(p).isSymbolicLink()) continue;
    if (!readlinkSync(p).startsWith(`${prefix}/`)) continue;
    rmSync(p, { force: true });
    rmSync(join(wants, name), { force: true });
    removed.push(name);
  }
  return { removed };
}

/** A unit a generation would install that the unit directory already has from someone else. */
export interface UnitConflict {
  readonly unit: string;
  /** The state dir of the railyard project whose unit it is; absent when it is not railyard's. */
  readonly project?: string;
  /** What is there, when it is not railyard's: "a file", "a link to PATH". */
  readonly found?: string;
}

/**
 * The units of `units` that the unit directory has from someone else: another railyard project
 * (a link into another state dir's `current/units`), or not railyard at all (a file, or a link
 * elsewhere). syncUnitLinks would replace them and take a service from whoever runs it. A link
 * whose target is gone (its state dir was deleted) is nobody's, and no conflict.
 */
export function unitConflicts(
  unitDir: string,
  stateDir: string,
  units: readonly string[],
): UnitConflict[] {
  const prefix = join(stateDir, "current", "units");
  const conflicts: UnitConflict[] = [];
  for (const unit of units) {
    const path = join(unitDir, unit);
    let link: string | undefined;
    try {
      link = lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined;
    } catch {
      continue; // not there
    }
    if (link === undefined) conflicts.push({ unit, found: "a file" });
    else if (link.startsWith(`${prefix}/`) || !existsSync(path)) continue;
    else {
      const project = /^(\/.+)\/current\/units\/[^/]+$/.exec(link)?.[1];
      conflicts.push(project ? { unit, project } : { unit, found: `a link to ${link}` });
    }
  }
  return conflicts;
}
