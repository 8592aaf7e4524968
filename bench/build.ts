/**
 * railyard against its peers, measured side by side in one run: `npm run bench`.
 * Prints medians with min/max and ratios, and writes bench/results.json and bench/results.md.
 * Peers: bare runc, podman (with this host's settings), ldd; see bench/README.md.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { alternate, fmt, ms, type Stats } from "./lib.js";
import { CLI, ENV, RUNS, config, log, railyard, ratio, results, work } from "./common.js";

/**
 * Images built from a Dockerfile: `railyard build NAME` of a compose-style app (a Debian base
 * from an OCI layout, a COPY and a RUN) against buildah itself, which railyard runs. Unchanged,
 * railyard hashes the context and runs no builder, where `buildah build --layers` (what
 * `podman-compose up --build` runs) walks its cache step by step. Changed, railyard adds the
 * push to an OCI layout, the import and the unpack to buildah's own build.
 */
export async function buildBench(): Promise<void> {
  log("\n## 9. build from a Dockerfile: unchanged context, and one changed file");
  if (spawnSync("buildah", ["--version"]).status !== 0) {
    log("buildah not installed: skipped");
    return;
  }
  const { debianImage } = await import("../tests/helpers/debian-images.js");
  const { NGINX_LIKE } = await import("../tests/helpers/official-images.js");
  const base = debianImage("nginx-like", NGINX_LIKE);
  const ctx = join(work, "build-app");
  mkdirSync(ctx, { recursive: true });
  writeFileSync(
    join(ctx, "Dockerfile"),
    `FROM oci:${base}:v1\nCOPY index.html /usr/share/nginx/html/index.html\nRUN echo built > /usr/share/nginx/html/run.txt\n`,
  );
  const page = (v: string) => writeFileSync(join(ctx, "index.html"), `page ${v}\n`);
  page("0");
  const file = config("build", { app: { build: ctx } });
  const runc = execFileSync("which", ["runc"], { encoding: "utf8" }).trim();
  const buildah = [
    "build",
    "--layers",
    `--runtime=${runc}`,
    "--pull=false",
    "-q",
    "-t",
    "localhost/bench-build:1",
    ctx,
  ];
  const timed = (cmd: string, args: string[]) => async () => {
    const t = process.hrtime.bigint();
    execFileSync(cmd, args, { env: ENV, stdio: "ignore" });
    return ms(t);
  };
  railyard(["--config", file, "build", "app"]);
  execFileSync("buildah", buildah, { stdio: "ignore" });
  const runs = Math.max(5, Math.ceil(RUNS / 3));
  const same = await alternate(
    {
      "railyard build": timed(process.execPath, [CLI, "--config", file, "build", "app"]),
      "buildah build --layers": timed("buildah", buildah),
    },
    runs,
  );
  let v = 0;
  const changed = await alternate(
    {
      "railyard build": async () => {
        page(`r${v++}`);
        return timed(process.execPath, [CLI, "--config", file, "build", "app"])();
      },
      "buildah build --layers": async () => {
        page(`b${v++}`);
        return timed("buildah", buildah)();
      },
    },
    runs,
  );
  execFileSync("buildah", ["rmi", "localhost/bench-build:1"], { stdio: "ignore" });
  const r0 = same["railyard build"] as Stats;
  const b0 = same["buildah build --layers"] as Stats;
  const r1 = changed["railyard build"] as Stats;
  const b1 = changed["buildah build --layers"] as Stats;
  log(`unchanged: railyard ${fmt(r0)}; buildah ${fmt(b0)} (${ratio(b0, r0).toFixed(1)}x railyard)`);
  log(`changed:   railyard ${fmt(r1)}; buildah ${fmt(b1)} (railyard ${ratio(r1, b1).toFixed(2)}x)`);
  results.push({
    section: "build",
    metric: "ms for railyard build NAME of an unchanged context",
    railyard: r0,
    peers: { "buildah build --layers (cached)": b0 },
    goal: "faster than buildah's cached build (no builder runs)",
    met: ratio(b0, r0) > 1,
  });
  results.push({
    section: "build",
    metric: "ms for railyard build NAME after one file changed (builder, import, unpack)",
    railyard: r1,
    peers: { "buildah build --layers": b1 },
    goal: "within 2x of buildah's own build",
    met: ratio(r1, b1) <= 2,
  });
}
