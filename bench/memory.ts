/**
 * railyard against its peers, measured side by side in one run: `npm run bench`.
 * Prints medians with min/max and ratios, and writes bench/results.json and bench/results.md.
 * Peers: bare runc, podman (with this host's settings), ldd; see bench/README.md.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Stats } from "./lib.js";
import { REPO, log, results } from "./common.js";
import { podman, podmanSetup } from "./peers.js";

export async function memory(): Promise<void> {
  log("\n## 5. memory held besides the container's own processes, per idle container");
  const out = execFileSync(
    process.execPath,
    [join(REPO, "dist/bench/supervision-memory.js"), "20"],
    { encoding: "utf8", cwd: REPO },
  );
  const kib = Number(/: ([\d.]+) KiB per container/.exec(out)?.[1] ?? NaN);
  let conmon: string | Stats = "podman not installed";
  if (podmanSetup()) {
    const id = podman([
      "run",
      "-d",
      "--network",
      "none",
      "localhost/bb",
      "/bin/busybox",
      "sleep",
      "1000",
    ]).trim();
    const pid = Number(podman(["inspect", "--format", "{{.State.ConmonPid}}", id]).trim());
    const rss = Number(
      /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN,
    );
    podman(["rm", "-f", "-t", "0", id]);
    conmon = { median: rss, min: rss, max: rss, runs: 1 };
  }
  log(
    `  railyard   ${kib} KiB (0 daemons, no process outside the container)\n  podman     conmon ${typeof conmon === "string" ? conmon : `${conmon.median} KiB`}\n  docker     not measured: no docker engine runs on this machine`,
  );
  results.push({
    section: "memory",
    metric: "KiB per idle container (RSS outside the container)",
    railyard: { median: kib, min: kib, max: kib, runs: 1 },
    peers: {
      "podman conmon": conmon,
      "dockerd+containerd": "not measured: no docker engine on this machine",
    },
    goal: "0 daemons; at most 1 MB per container",
    met: kib <= 1024,
    note: out.trim().split("\n").pop() ?? "",
  });
}
