import { lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync } from "node:fs";
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
