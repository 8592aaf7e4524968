/**
 * railyard against its peers, measured side by side in one run: `npm run bench`.
 * Prints medians with min/max and ratios, and writes bench/results.json and bench/results.md.
 * Peers: bare runc, podman (with this host's settings), ldd; see bench/README.md.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fmt, ms } from "./lib.js";
import { log, results, work } from "./common.js";

export async function switchBench(): Promise<void> {
  log("\n## 4. switch of 100 services under a real systemd (in a namespace)");
  const { bootSystemd } = await import("../tests/helpers/systemd.js");
  const sd = await bootSystemd(join(work, "ns"), [work]);
  try {
    const file = join(work, "switch.json");
    const svc = (msg: string) => ({
      args: [
        "/bin/busybox",
        "sh",
        "-c",
        `trap 'exit 0' TERM; echo ${msg}; while :; do sleep 60; done`,
      ],
    });
    /** s0 says `changed`; the others say their name, and `all` after it when given. */
    const write = (changed: string, all = "") =>
      writeFileSync(
        file,
        JSON.stringify({
          stateDir: join(work, "sw-state"),
          runtime: "runc",
          containers: Object.fromEntries(
            Array.from({ length: 100 }, (_, i) => [
              `s${i}`,
              svc(i === 0 ? changed : `s${i}${all}`),
            ]),
          ),
        }),
      );
    const timed = async (args: string[]) => {
      const t = process.hrtime.bigint();
      const r = await sd.railyard(args);
      if (r.code !== 0) throw new Error(r.stderr);
      return { ms: ms(t), out: r.stdout };
    };
    write("v0");
    // The activation itself: --settle 0 leaves out the fixed wait (3 s by default) in which
    // switch watches what it started.
    const first = await timed(["--config", file, "switch", "--json", "--settle", "0"]);
    const noops: number[] = [];
    const changed: number[] = [];
    let restartsNoop = 0;
    let restartsChanged = 0;
    for (let i = 0; i < 5; i++) {
      const a = await timed(["--config", file, "switch", "--json", "--settle", "0"]);
      noops.push(a.ms);
      restartsNoop += (JSON.parse(a.out) as { plan: { restart: string[] } }).plan.restart.length;
      write(`v${i + 1}`);
      const b = await timed(["--config", file, "switch", "--json", "--settle", "0"]);
      changed.push(b.ms);
      restartsChanged = Math.max(
        restartsChanged,
        (JSON.parse(b.out) as { plan: { restart: string[] } }).plan.restart.length,
      );
    }
    // Settling: all 100 restarted, then watched for the default 3 s, all at once; against the
    // same switch with --settle 0. The difference should be one settle time, not 100.
    const bare: number[] = [];
    const settled: number[] = [];
    for (let i = 0; i < 3; i++) {
      write("v9", `-bare${i}`);
      bare.push((await timed(["--config", file, "switch", "--json", "--settle", "0"])).ms);
      write("v9", `-settled${i}`);
      settled.push((await timed(["--config", file, "switch", "--json"])).ms);
    }
    const { stats } = await import("./lib.js");
    const noop = stats(noops);
    const one = stats(changed);
    const withSettle = stats(settled);
    const without = stats(bare);
    const overhead = withSettle.median - without.median;
    log(
      `  first switch (100 start)  ${first.ms.toFixed(0)} ms\n  no-op switch              ${fmt(noop)}, ${restartsNoop} restarts\n  1 of 100 changed          ${fmt(one)}, ${restartsChanged} restarted\n` +
        `  100 restarted, settle 3 s ${fmt(withSettle)}\n  100 restarted, settle 0   ${fmt(without)}\n  settling costs            ${overhead.toFixed(0)} ms (one 3 s settle time, not 100)`,
    );
    results.push({
      section: "switch",
      metric: "ms, 100 of 100 restarted with the default 3 s settle",
      railyard: withSettle,
      peers: { "railyard --settle 0": without },
      goal: "settling adds under 4 s (one settle time plus polling), not 100 × 3 s",
      met: overhead < 4000,
    });
    results.push({
      section: "switch",
      metric: "ms, first switch of 100 services",
      railyard: { median: first.ms, min: first.ms, max: first.ms, runs: 1 },
      peers: {},
      goal: "(reported)",
      met: null,
    });
    results.push({
      section: "switch",
      metric: "ms, no-op switch of 100 services",
      railyard: noop,
      peers: {},
      goal: "under 0.5 s with 0 restarts",
      met: noop.median < 500 && restartsNoop === 0,
    });
    results.push({
      section: "switch",
      metric: "ms, 1 of 100 changed",
      railyard: one,
      peers: {},
      goal: "restarts exactly 1",
      met: restartsChanged === 1,
    });
  } finally {
    await sd.stop();
  }
}
