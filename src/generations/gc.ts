import { lstatSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { isStaleTemp, tempPid } from "../util/stale.js";
import {
  currentGeneration,
  generationDir,
  listGenerations,
  journalGenerations,
  readJournal,
  readManifest,
} from "./store.js";

export interface GenerationGcResult {
  readonly generations: readonly number[];
  readonly bundles: readonly string[];
  /** Image digests the remaining generations use (roots for the image gc). */
  readonly images: readonly string[];
}

/**
 * Delete all but the newest `keep` generations (never the current one, nor either side of an
 * unfinished activation), then every bundle that no remaining generation uses and that is not
 * the newest bundle of its container.
 */
export function collectGenerations(
  stateDir: string,
  keep: number | undefined,
  dryRun: boolean,
  containers: ReadonlySet<string>,
): GenerationGcResult {
  const all = listGenerations(stateDir);
  const protect = new Set<number>();
  const cur = currentGeneration(stateDir);
  if (cur !== undefined) protect.add(cur);
  const j = readJournal(stateDir);
  if (j) for (const n of journalGenerations(j)) protect.add(n);
  const kept =
    keep === undefined ? all : all.filter((n, i) => i >= all.length - keep || protect.has(n));
  const dropped = all.filter((n) => !kept.includes(n));
  if (!dryRun)
    for (const n of dropped) rmSync(generationDir(stateDir, n), { recursive: true, force: true });

  const used = new Set<string>();
  const images = new Set<string>();
  for (const n of kept)
    for (const s of Object.values(readManifest(stateDir, n).services)) {
      if (s.bundle) used.add(s.bundle);
      if (s.image) images.add(s.image);
    }
  const dir = join(stateDir, "bundles");
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    // nothing built yet
  }
  for (const e of entries) {
    if (!lstatSync(join(dir, e)).isSymbolicLink()) continue;
    // The newest bundle of a container in the config stays; links of removed containers go.
    if (containers.has(e)) used.add(readlinkSync(join(dir, e)));
    else if (!dryRun) rmSync(join(dir, e), { force: true });
  }
  const bundles = entries.filter(
    (e) =>
      !used.has(e) &&
      lstatSync(join(dir, e), { throwIfNoEntry: false })?.isDirectory() === true &&
      (tempPid(e) === undefined || isStaleTemp(e)),
  );
  // What a killed build or switch left half-written (its pid is dead).
  const genDir = join(stateDir, "generations");
  const temps = (() => {
    try {
      return readdirSync(genDir).filter((e) => isStaleTemp(e));
    } catch {
      return [];
    }
  })();
  if (!dryRun) {
    for (const b of bundles) rmSync(join(dir, b), { recursive: true, force: true });
    for (const t of temps) rmSync(join(genDir, t), { recursive: true, force: true });
  }
  return { generations: dropped, bundles, images: [...images] };
}
