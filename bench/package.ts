/**
 * railyard against its peers, measured side by side in one run: `npm run bench`.
 * Prints medians with min/max and ratios, and writes bench/results.json and bench/results.md.
 * Peers: bare runc, podman (with this host's settings), ldd; see bench/README.md.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { alternate, fmt, timeUntil, type Stats } from "./lib.js";
import { CLI, ENV, REPO, RUNS, config, log, railyard, ratio, results, work } from "./common.js";

/**
 * The Debian package's railyard (its own stripped Node behind /usr/bin/railyard's sh) against the
 * clone's bundle run by the host's node, which the other sections measure.
 */
export async function packageBench(): Promise<void> {
  log("\n## 10. the Debian package's railyard against the clone's, from start to exit");
  const deb = execFileSync(
    process.execPath,
    [join(REPO, "scripts/deb.mjs"), "--out", join(work, "deb")],
    { encoding: "utf8" },
  ).trim();
  const root = join(work, "deb-root");
  execFileSync("dpkg-deb", ["--extract", deb, root]);
  // /usr/bin/railyard names /usr/lib/railyard: the same script, pointed at the copy unpacked here.
  const wrapper = join(root, "usr/bin/railyard");
  writeFileSync(
    wrapper,
    readFileSync(wrapper, "utf8").replaceAll("/usr/lib/railyard", join(root, "usr/lib/railyard")),
  );
  const json = config("package", { hi: { args: ["/bin/busybox", "echo", "ready"] } });
  railyard(["--config", json, "build", "hi"]);
  const run = ["--config", json, "run", "hi"];
  const s = await alternate(
    {
      "package --version": () => timeUntil(wrapper, ["--version"], { env: ENV }),
      "clone --version": () => timeUntil(process.execPath, [CLI, "--version"], { env: ENV }),
      "package run": () => timeUntil(wrapper, run, { env: ENV }),
      "clone run": () => timeUntil(process.execPath, [CLI, ...run], { env: ENV }),
    },
    RUNS * 2,
  );
  for (const [k, v] of Object.entries(s)) log(`  ${k.padEnd(20)} ${fmt(v)}`);
  for (const [what, key] of [
    ["railyard --version", "--version"],
    ["railyard run NAME (JSON config)", "run"],
  ] as const) {
    const pkg = s[`package ${key}`] as Stats;
    const clone = s[`clone ${key}`] as Stats;
    log(`  ${what}: package/clone ${ratio(pkg, clone).toFixed(2)}x`);
    results.push({
      section: "package",
      metric: `ms for ${what}, from the .deb`,
      railyard: pkg,
      peers: { "the clone's bundle": clone },
      goal: "within 5 ms of the clone's",
      met: pkg.median - clone.median <= 5,
    });
  }
}
