import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { replaceSymlink } from "../util/atomic.js";
import { join } from "node:path";
import { GenerationNotFoundError } from "../errors.js";
import type { GenerationManifest } from "./manifest.js";

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

/** The activation journal: present only while a switch is between its first and last step. */
export interface Journal {
  readonly from: number | undefined;
  readonly to: number;
}

const journalPath = (stateDir: string) => join(stateDir, "activation.json");

export function readJournal(stateDir: string): Journal | undefined {
  try {
    return JSON.parse(readFileSync(journalPath(stateDir), "utf8")) as Journal;
  } catch {
    return undefined;
  }
}

export const journalFile = journalPath;
