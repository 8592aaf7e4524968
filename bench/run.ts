/**
 * railyard against its peers, measured side by side in one run: `npm run bench`.
 * Prints medians with min/max and ratios, and writes bench/results.json and bench/results.md.
 * Peers: bare runc, podman (with this host's settings), ldd; see bench/README.md. Each section
 * is a file of its own; common.ts holds what they share, peers.ts how the peers are run.
 */
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import type { Stats } from "./lib.js";
import { buildBench } from "./build.js";
import { cliOverhead } from "./cli.js";
import { closure } from "./closure.js";
import { log, REPO, results, RUNS, work } from "./common.js";
import { memory } from "./memory.js";
import { networkStart } from "./network.js";
import { packageBench } from "./package.js";
import { buildPullImage, pullBench } from "./pull.js";
import { startLatency } from "./start.js";
import { switchBench } from "./switch.js";
import { writableBench } from "./writable.js";

try {
  const t0 = Date.now();
  log(
    `# railyard benchmark, ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${RUNS} alternating runs`,
  );
  if (!existsSync(join(REPO, "dist/src/cli/main.js"))) throw new Error("run npm run build first");
  const sections = {
    start: startLatency,
    cli: cliOverhead,
    pull: pullBench,
    closure,
    switch: switchBench,
    memory,
    writable: writableBench,
    network: networkStart,
    build: buildBench,
    package: packageBench,
  };
  // BENCH_ONLY=pull,switch runs some sections; the results files are then left as they were.
  const only = process.env["BENCH_ONLY"]?.split(",").filter(Boolean);
  if (!only || only.includes("pull") || only.includes("writable")) await buildPullImage();
  for (const [name, run] of Object.entries(sections)) if (!only || only.includes(name)) await run();
  const fmtPeer = (p: Stats | string) => (typeof p === "string" ? p : `${p.median.toFixed(1)}`);
  const md = [
    `| section | metric | railyard (median) | peers (median) | goal | met |`,
    `| --- | --- | --- | --- | --- | --- |`,
    ...results.map(
      (r) =>
        `| ${r.section} | ${r.metric} | ${r.railyard.median.toFixed(1)} | ${
          Object.entries(r.peers)
            .map(([k, v]) => `${k}: ${fmtPeer(v)}`)
            .join("; ") || "-"
        } | ${r.goal} | ${r.met === null ? "-" : r.met ? "yes" : "**no**"} |`,
    ),
  ].join("\n");
  const header = `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, with \`npm run bench\` (${RUNS} alternating runs; ${((Date.now() - t0) / 1000).toFixed(0)} s).`;
  if (only) {
    log(`\n${md}\n\n(BENCH_ONLY=${only.join(",")}: bench/results.* not written)`);
  } else {
    writeFileSync(
      join(REPO, "bench/results.json"),
      `${JSON.stringify({ date: new Date().toISOString(), cores: cpus().length, runs: RUNS, results }, null, 2)}\n`,
    );
    writeFileSync(join(REPO, "bench/results.md"), `${header}\n\n${md}\n`);
    log(`\n${md}\n\n${header}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
