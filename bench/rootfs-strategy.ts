/**
 * Hardlinks or read-only bind mounts for a host-program rootfs? Builds the same closure both ways
 * and times the build and a container start (runc run of python3 -c pass), alternating the two.
 *
 *   npm run build && node dist/bench/rootfs-strategy.js [program] [elf|packages] [runs]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { computeClosure } from "../src/closure/index.js";
import { hostFs } from "../src/closure/fs.js";
import { hostResolveContext } from "../src/config/load.js";
import { resolveConfig } from "../src/config/resolve/index.js";
import { hostProcess } from "../src/bundle/process.js";
import { planRootfs, type RootfsEntry } from "../src/bundle/rootfs.js";
import { renderSpec, serializeSpec } from "../src/bundle/spec.js";
import { writeBundle } from "../src/bundle/write.js";

const program = process.argv[2] ?? "/usr/bin/python3";
const mode = (process.argv[3] ?? "packages") as "elf" | "packages";
const runs = Number(process.argv[4] ?? 15);
const args = program.endsWith("python3") ? [program, "-c", "pass"] : [program, "--version"];

const dir = mkdtempSync("/var/tmp/railyard-bench-");
const c = resolveConfig({ containers: { b: { args, closure: mode } } }, hostResolveContext("bench"))
  .containers["b"];
if (!c) throw new Error("unreachable");
const closure = computeClosure(program, { fs: hostFs(), mode });
const proc = hostProcess(c, closure.program);
const plan = planRootfs(c, proc, closure.entries, {
  resolvConf: undefined,
  fileMounts: new Set(),
});
const files = [...plan.entries].filter(([, e]) => e.kind === "file");
const baseSpec = renderSpec(c, {
  rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
  devices: {},
  process: proc,
});

function time(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e6;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** Variant A: every closure file hardlinked into rootfs/. */
function buildHardlink(target: string): void {
  writeBundle(target, serializeSpec(baseSpec), plan, {
    fingerprint: "",
    container: "b",
    program,
    packages: [],
    entries: plan.entries.size,
    linkMode: "hardlink",
  });
}

/** Variant B: empty mount points in rootfs/, one read-only bind mount per closure file. */
function buildBind(target: string): void {
  const bindPlan = new Map<string, RootfsEntry>(
    [...plan.entries].map(
      ([p, e]) => [p, e.kind === "file" ? { kind: "data", content: "", mode: e.mode } : e] as const,
    ),
  );
  const spec = {
    ...baseSpec,
    mounts: [
      ...baseSpec.mounts,
      ...files.map(([p, e]) => ({
        destination: p,
        type: "bind",
        source: e.kind === "file" ? e.source : "",
        options: ["bind", "ro"],
      })),
    ],
  };
  writeBundle(
    target,
    serializeSpec(spec),
    { entries: bindPlan },
    {
      fingerprint: "",
      container: "b",
      program,
      packages: [],
      entries: plan.entries.size,
      linkMode: "copy",
    },
  );
}

function start(bundle: string): number {
  return time(() => {
    const r = spawnSync("runc", ["run", "--bundle", bundle, `bench-${process.pid}`], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    if (r.status !== 0) throw new Error(`runc failed: ${r.stderr.toString()}`);
  });
}

const results = {
  hardlink: { build: [] as number[], start: [] as number[] },
  bind: { build: [] as number[], start: [] as number[] },
};
const a = join(dir, "hardlink");
const b = join(dir, "bind");
for (let i = 0; i < runs; i++) {
  results.hardlink.build.push(time(() => buildHardlink(a)));
  results.bind.build.push(time(() => buildBind(b)));
  results.hardlink.start.push(start(a));
  results.bind.start.push(start(b));
}
rmSync(dir, { recursive: true, force: true });

const line = (name: string, r: { build: number[]; start: number[] }) =>
  `${name.padEnd(9)} build ${median(r.build).toFixed(1).padStart(7)} ms   start+exit ${median(r.start).toFixed(1).padStart(7)} ms`;
const summary = [
  `${program} (${mode} closure): ${plan.entries.size} rootfs entries, ${files.length} files; median of ${runs} alternating runs`,
  line("hardlink", results.hardlink),
  line("bind-ro", results.bind),
  `start ratio bind/hardlink: ${(median(results.bind.start) / median(results.hardlink.start)).toFixed(2)}x`,
];
console.log(summary.join("\n"));
writeFileSync(join(process.cwd(), "bench", "rootfs-strategy.txt"), `${summary.join("\n")}\n`);
