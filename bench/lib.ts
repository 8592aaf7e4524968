/** Small timing helpers for the benchmark: alternate peers, report median/min/max and ratios. */
import { spawn } from "node:child_process";

export interface Stats {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
}

export function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  return {
    median: s[Math.floor(s.length / 2)] ?? NaN,
    min: s[0] ?? NaN,
    max: s[s.length - 1] ?? NaN,
    runs: s.length,
  };
}

export const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

/** Run a command; resolve with the milliseconds until `marker` appears on stdout (or until exit). */
export function timeUntil(
  cmd: string,
  args: readonly string[],
  o: { marker?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: o.env ?? process.env,
    });
    let out = "";
    let err = "";
    let seen: number | undefined;
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      if (seen === undefined && o.marker && out.includes(o.marker)) seen = ms(t0);
    });
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0)
        return reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${err.slice(-500)}`));
      if (o.marker && seen === undefined)
        return reject(new Error(`${cmd}: no "${o.marker}" in output: ${out.slice(-200)}`));
      resolve(seen ?? ms(t0));
    });
  });
}

/** Measure peers in alternation, `runs` rounds, so drift hits all of them alike. */
export async function alternate(
  peers: Record<string, () => Promise<number>>,
  runs: number,
  warmup = 1,
): Promise<Record<string, Stats>> {
  const samples: Record<string, number[]> = Object.fromEntries(
    Object.keys(peers).map((k) => [k, []]),
  );
  const entries = Object.entries(peers);
  for (let i = 0; i < warmup + runs; i++)
    // Rotate who goes first: a peer's after-effects (podman's cleanup process, page cache) then
    // fall on every peer in turn, not always on the one measured next.
    for (let j = 0; j < entries.length; j++) {
      const [k, f] = entries[(i + j) % entries.length] as [string, () => Promise<number>];
      const t = await f();
      if (i >= warmup) samples[k]?.push(t);
      // BENCH_SAMPLES=1 prints every sample, for looking into a wide min..max.
      if (process.env["BENCH_SAMPLES"])
        process.stdout.write(`    round ${i} ${k}: ${t.toFixed(1)}\n`);
    }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));
}

export const fmt = (s: Stats): string =>
  `${s.median.toFixed(1)} ms (min ${s.min.toFixed(1)}, max ${s.max.toFixed(1)})`;
