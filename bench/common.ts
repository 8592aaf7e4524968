/**
 * railyard against its peers, measured side by side in one run: `npm run bench`.
 * Prints medians with min/max and ratios, and writes bench/results.json and bench/results.md.
 * Peers: bare runc, podman (with this host's settings), ldd; see bench/README.md.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Stats } from "./lib.js";

export const REPO = resolve(new URL(".", import.meta.url).pathname, "../..");
export const CLI = join(REPO, "bin/railyard.cjs");
export const RUNS = Number(process.env["BENCH_RUNS"] ?? 15);
// Lowercase only: podman names an image pulled from an OCI layout after the layout's path.
export const work = `/var/tmp/railyard-bench-${process.pid}`;
mkdirSync(work, { recursive: true });
export const results: Row[] = [];

export interface Row {
  readonly section: string;
  readonly metric: string;
  readonly railyard: Stats;
  readonly peers: Record<string, Stats | string>;
  readonly goal: string;
  readonly met: boolean | null;
  readonly note?: string;
}

/**
 * This machine sets NODE_EXTRA_CA_CERTS, which makes node parse a CA bundle before running any code
 * (about 50 ms here). A Debian host does not set it, so railyard runs without it; the cli section
 * also measures it with the variable, and reports that separately.
 */
export const EXTRA_CA = process.env["NODE_EXTRA_CA_CERTS"];
export const ENV: NodeJS.ProcessEnv = { ...process.env, RAILYARD_CONFIG: "" };
delete ENV["NODE_EXTRA_CA_CERTS"];
export const railyard = (args: string[]) =>
  execFileSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: ENV });
export const log = (s: string) => process.stdout.write(`${s}\n`);
export const ratio = (a: Stats, b: Stats) => a.median / b.median;

export function config(name: string, containers: Record<string, unknown>): string {
  const file = join(work, `${name}.json`);
  writeFileSync(file, JSON.stringify({ stateDir: join(work, "state"), containers }));
  return file;
}

let counter = 0;
/** A number no other call has given: for names of runs, directories and files. */
export const unique = (): number => counter++;
