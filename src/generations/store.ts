import { readFileSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { replaceSymlink, writeFileAtomic } from "../util/atomic.js";
import { join } from "node:path";
import { GenerationNotFoundError } from "../errors.js";
import type { GenerationManifest } from "./manifest.js";
import type { ResolvedConfig } from "../model/types.js";

export const generationsDir = (stateDir: string): string => join(stateDir, "generations");
export const generationDir = (stateDir: string, n: number): string =>
  join(generationsDir(stateDir), String(n));
export const MANIFEST = "generation.json";

/** Generation numbers present on disk, ascending. */
export function listGenerations(stateDir: string): number[] {
  try {
    return readdirSync(generationsDir(stateDir))
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

export function readManifest(stateDir: string, n: number): GenerationManifest {
  try {
    return JSON.parse(
      readFileSync(join(generationDir(stateDir, n), MANIFEST), "utf8"),
    ) as GenerationManifest;
  } catch {
    throw new GenerationNotFoundError(
      `generation ${n} does not exist in ${generationsDir(stateDir)}. see railyard generations`,
      n,
    );
  }
}

/** The resolved config a generation was built from (undefined if unreadable). */
export function readGenerationConfig(stateDir: string, n: number): ResolvedConfig | undefined {
  try {
    return JSON.parse(
      readFileSync(join(generationDir(stateDir, n), "config.json"), "utf8"),
    ) as ResolvedConfig;
  } catch {
    return undefined;
  }
}

/** The generation `<stateDir>/current` points at, if any. */
export function currentGeneration(stateDir: string): number | undefined {
  try {
    const m = /^generations\/(\d+)$/.exec(readlinkSync(join(stateDir, "current")));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Point `current` at generation n, atomically (a new link renamed over the old one). */
export function setCurrent(stateDir: string, n: number): void {
  replaceSymlink(`generations/${n}`, join(stateDir, "current"));
}

/**
 * The activation journal: present from a switch's first step until its services have settled
 * (or it was rolled back). `running` lists every generation whose services the host may run
 * while it is there, so the switch that finishes it restarts whatever differs from any of them.
 */
export interface Journal {
  /** The generation that was current when the first unfinished switch began. */
  readonly from: number | undefined;
  readonly to: number;
  /** Generations the host may run a mix of (journals written before this field: from and to). */
  readonly running?: readonly number[];
  /** Set while a failed switch goes back to `to`: the generation that failed. */
  readonly rollingBackFrom?: number;
}

const journalPath = (stateDir: string) => join(stateDir, "activation.json");

/** The lock every switch, rollback, update, build and gc of a state dir holds. */
export const switchLockFile = (stateDir: string): string => join(stateDir, "switch.lock");

export function readJournal(stateDir: string): Journal | undefined {
  try {
    return JSON.parse(readFileSync(journalPath(stateDir), "utf8")) as Journal;
  } catch {
    return undefined;
  }
}

/** The generations a pending journal says the host may be running. */
export const journalGenerations = (j: Journal): number[] => [
  ...new Set([...(j.running ?? []), ...(j.from !== undefined ? [j.from] : []), j.to]),
];

export const journalFile = journalPath;

/** Why a generation was given up on: written when its switch failed and was undone. */
export interface FailureMark {
  readonly at: string;
  /** One line: which services failed and how. */
  readonly reason: string;
  readonly services: readonly string[];
}

const failedPath = (stateDir: string, n: number) => join(generationDir(stateDir, n), "failed.json");

export function markFailed(stateDir: string, n: number, mark: FailureMark): void {
  writeFileAtomic(failedPath(stateDir, n), `${JSON.stringify(mark, null, 2)}\n`);
}

export function readFailed(stateDir: string, n: number): FailureMark | undefined {
  try {
    return JSON.parse(readFileSync(failedPath(stateDir, n), "utf8")) as FailureMark;
  } catch {
    return undefined;
  }
}

/** A generation that has now switched in and settled is no longer a failed one. */
export function clearFailed(stateDir: string, n: number): void {
  rmSync(failedPath(stateDir, n), { force: true });
}
