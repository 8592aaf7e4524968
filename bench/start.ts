/**
 * railyard against its peers, measured side by side in one run: `npm run bench`.
 * Prints medians with min/max and ratios, and writes bench/results.json and bench/results.md.
 * Peers: bare runc, podman (with this host's settings), ldd; see bench/README.md.
 */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { alternate, fmt, timeUntil, type Stats } from "./lib.js";
import { RUNS, config, log, railyard, ratio, results, work, unique } from "./common.js";
import { PODMAN, bareBundle, podmanSetup, settle, unitPeer } from "./peers.js";

export async function startLatency(): Promise<void> {
  log("\n## 1. start latency: until the container's first output line (busybox echo)");
  const state = join(work, "state");
  // The same busybox as a host program and as an image (whose writable root is an overlay that
  // the unit mounts before runc and unmounts after it).
  const layout = podmanSetup() ? join(work, "layout") : undefined;
  // And with an env file, which the unit reads at start (one awk run composes the config).
  const envFile = join(work, "start.env");
  writeFileSync(envFile, "TOKEN=t0k3n\nREGION=eu\n", { mode: 0o600 });
  const cfg = config("start", {
    hello: { args: ["/bin/busybox", "echo", "ready"] },
    envd: { args: ["/bin/busybox", "echo", "ready"], environmentFiles: [envFile] },
    ...(layout
      ? {
          img: {
            image: "localhost/bench/bb:1",
            imageFile: `oci:${layout}:bb`,
            entrypoint: ["/bin/busybox", "echo", "ready"],
          },
        }
      : {}),
  });
  const built = JSON.parse(railyard(["--config", cfg, "build", "--json"])) as { dir: string };
  // What `switch` does besides systemctl: point current at the generation. Then run exactly the
  // commands of the generated unit, as systemd would: ExecStartPre=, then ExecStart=.
  symlinkSync(built.dir, join(state, "current"));
  mkdirSync("/run/railyard", { recursive: true });
  const bare = bareBundle();
  const peers: Record<string, () => Promise<number>> = {
    railyard: unitPeer(join(built.dir, "units/railyard-hello.service"), "ready"),
    "bare runc": () =>
      timeUntil("runc", ["run", "--bundle", bare, `bench-${unique()}`], { marker: "ready" }),
  };
  peers["railyard with an env file"] = unitPeer(
    join(built.dir, "units/railyard-envd.service"),
    "ready",
  );
  if (layout)
    peers["railyard image (overlay root)"] = unitPeer(
      join(built.dir, "units/railyard-img.service"),
      "ready",
    );
  if (podmanSetup())
    peers["podman run"] = async () => {
      const t = await timeUntil(
        "podman",
        [
          ...PODMAN,
          "run",
          "--rm",
          "--network",
          "none",
          "localhost/bb",
          "/bin/busybox",
          "echo",
          "ready",
        ],
        { marker: "ready" },
      );
      // conmon starts a podman cleanup process after the container exits; let it finish
      // (unmeasured) so that it does not run during the next peer's measurement.
      await settle(join(work, "podman/storage"));
      return t;
    };
  const s = await alternate(peers, RUNS * 3);
  const r = s["railyard"] as Stats;
  const goalRunc = ratio(r, s["bare runc"] as Stats) <= 1.15;
  const goalPodman = s["podman run"] ? ratio(s["podman run"] as Stats, r) >= 5 : null;
  for (const [k, v] of Object.entries(s))
    log(
      `  ${k.padEnd(30)} ${fmt(v)}${k === "railyard" ? "" : `  railyard/peer ${ratio(r, v).toFixed(2)}x`}`,
    );
  results.push({
    section: "start",
    metric: "ms to first output line (the unit's own ExecStart)",
    railyard: r,
    peers: {
      "bare runc": s["bare runc"] as Stats,
      "railyard with an env file": s["railyard with an env file"] as Stats,
      "railyard image (overlay root)": s["railyard image (overlay root)"] ?? "podman not installed",
      "podman run": s["podman run"] ?? "podman not installed",
    },
    goal: "within 1.15x of bare runc; at least 5x faster than podman run",
    met: goalRunc && goalPodman !== false,
  });
}
