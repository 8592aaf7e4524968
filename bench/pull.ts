/**
 * railyard against its peers, measured side by side in one run: `npm run bench`.
 * Prints medians with min/max and ratios, and writes bench/results.json and bench/results.md.
 * Peers: bare runc, podman (with this host's settings), ldd; see bench/README.md.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { alternate, fmt, ms, timeUntil, type Stats } from "./lib.js";
import { CLI, ENV, RUNS, log, ratio, results, work, unique } from "./common.js";

/** Host directories that make the 5 layers of the pull benchmark (about 200 MB of real files). */
export const PULL_LAYERS = [
  ["/bin/busybox"],
  ["/usr/lib/python3.11"],
  ["/usr/share/perl", "/usr/lib/x86_64-linux-gnu/perl"],
  ["/usr/lib/gcc"],
  ["/usr/share/zoneinfo", "/usr/share/mime"],
];

export const pullLayout = join(work, "pull-layout");
/** When the pull image was built: its build deletes big trees, whose shadow must pass first. */
export let pullLayoutBuilt = 0;

/**
 * Build the pull section's image with umoci. Done before the other sections: umoci's unpack and
 * repack of each layer delete up to 230 MB of files, and on this disk that slows every file
 * creation for about a minute (see bench/README.md).
 */
export async function buildPullImage(): Promise<void> {
  const { buildImage } = await import("../tests/helpers/registry.js");
  const layers = PULL_LAYERS.map((paths) => paths.filter((p) => existsSync(p)));
  buildImage(
    pullLayout,
    "big",
    {
      layers: layers.map(
        (paths) => (r: string) =>
          paths.forEach((p) => {
            mkdirSync(join(r, dirname(p)), { recursive: true });
            execFileSync("cp", ["-a", p, join(r, p)]);
          }),
      ),
      config: { entrypoint: ["/bin/busybox", "true"] },
    },
    work,
  );
  execFileSync("sync");
  pullLayoutBuilt = Date.now();
}

export async function pullBench(): Promise<void> {
  log("\n## 3. pull and unpack a 5-layer image from a registry on loopback, into an empty store");
  const { startRegistry, push } = await import("../tests/helpers/registry.js");
  const layout = pullLayout;
  const registry = await startRegistry(join(work, "pull-registry"));
  const made: string[] = [];
  const podmanArgs = (d: string) => ["--root", join(d, "storage"), "--runroot", join(d, "run")];
  try {
    const ref = `${registry.host}/bench/big:v1`;
    push(layout, "big", ref);
    const manifest = JSON.parse(
      execFileSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${ref}`], {
        encoding: "utf8",
      }),
    ) as { layers: { digest: string; size: number }[] };
    const blobs = join(layout, "blobs/sha256");
    const compressed = manifest.layers.reduce((a, l) => a + l.size, 0);
    let uncompressed = 0;
    for (const l of manifest.layers)
      uncompressed += execFileSync("gzip", ["-dc", join(blobs, l.digest.slice(7))], {
        maxBuffer: 1 << 30,
      }).length;
    // Every round writes into a fresh directory, and nothing is deleted until the section ends.
    // This disk's ext4 has no journal, and then ext4 skips each inode deleted in the last minutes
    // (recently_deleted(), up to 6 min) while it looks for a free one: after a 230 MB tree is
    // removed, the next file creations cost several times more (perf showed it). Deleting between
    // rounds would charge that to whoever runs next, and no real pull follows such a delete.
    // Each round starts with nothing dirty in the page cache: otherwise the kernel's writeback of
    // the previous rounds' gigabytes lands on whoever runs while it flushes.
    const fresh = (name: string) => {
      execFileSync("sync");
      const d = join(work, `pull-${name}-${unique()}`);
      mkdirSync(d, { recursive: true });
      made.push(d);
      return d;
    };
    // ext4 checks an inode's deletion time only while its inode table block is cached: after a
    // sync, dropping the caches ends the shadow of every earlier delete (this run's image build,
    // an earlier bench, the tests). Failing that (no root), wait out the minute. One warmup round
    // then brings the binaries and the registry's blobs back into the cache for every peer.
    execFileSync("sync");
    try {
      writeFileSync("/proc/sys/vm/drop_caches", "3\n");
    } catch {
      const wait = pullLayoutBuilt + 65_000 - Date.now();
      log(`  (cannot drop caches: waiting ${(wait / 1000).toFixed(0)} s for deletions to age)`);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const cfgFor = (state: string) => {
      const f = join(work, `pull-${unique()}.json`);
      writeFileSync(
        f,
        JSON.stringify({
          stateDir: state,
          registries: { [registry.host]: { insecure: true } },
          containers: { big: { image: ref } },
        }),
      );
      return f;
    };
    const s = await alternate(
      {
        // Pulled, verified, unpacked and laid out as a bundle: ready to run.
        railyard: async () => {
          const d = fresh("railyard");
          const f = cfgFor(d);
          return timeUntil(process.execPath, [CLI, "--config", f, "build", "big"], { env: ENV });
        },
        "podman pull": async () => {
          const d = fresh("podman");
          return timeUntil("podman", [...podmanArgs(d), "pull", "-q", "--tls-verify=false", ref]);
        },
        "skopeo+umoci": async () => {
          const d = fresh("umoci");
          const t0 = process.hrtime.bigint();
          execFileSync("skopeo", [
            "copy",
            "-q",
            "--src-tls-verify=false",
            `docker://${ref}`,
            `oci:${join(d, "layout")}:v1`,
          ]);
          execFileSync("umoci", [
            "unpack",
            "--image",
            `${join(d, "layout")}:v1`,
            join(d, "bundle"),
          ]);
          return ms(t0);
        },
        "gzip -dc": async () => {
          execFileSync("sync");
          const t0 = process.hrtime.bigint();
          for (const l of manifest.layers)
            execFileSync("sh", ["-c", `gzip -dc ${join(blobs, l.digest.slice(7))} > /dev/null`]);
          return ms(t0);
        },
      },
      Math.max(5, Math.floor(RUNS / 3)),
      1,
    );
    const r = s["railyard"] as Stats;
    const mbps = (x: Stats) => uncompressed / 1e6 / (x.median / 1000);
    log(
      `  image: ${manifest.layers.length} layers, ${(compressed / 1e6).toFixed(0)} MB compressed, ${(uncompressed / 1e6).toFixed(0)} MB of files`,
    );
    for (const [k, v] of Object.entries(s))
      log(
        `  ${k.padEnd(13)} ${fmt(v)}  ${mbps(v).toFixed(0)} MB/s${k === "railyard" ? "" : `  railyard/peer ${ratio(r, v).toFixed(2)}x`}`,
      );
    const podmanS = s["podman pull"] as Stats;
    const gz = s["gzip -dc"] as Stats;
    results.push({
      section: "pull",
      metric: `ms to pull+unpack ${(uncompressed / 1e6).toFixed(0)} MB in ${manifest.layers.length} layers`,
      railyard: r,
      peers: {
        "podman pull": podmanS,
        "skopeo+umoci": s["skopeo+umoci"] as Stats,
        "gzip -dc (limit)": gz,
      },
      goal: "at least 1.5x faster than podman pull; above 70% of the decompression limit",
      met: ratio(podmanS, r) >= 1.5 && mbps(r) >= 0.7 * mbps(gz),
      note: `${mbps(r).toFixed(0)} MB/s against ${mbps(gz).toFixed(0)} MB/s for gzip -dc`,
    });
  } finally {
    await registry.stop();
    for (const d of made) {
      if (d.includes("podman")) spawnSync("podman", [...podmanArgs(d), "system", "reset", "-f"]);
      rmSync(d, { recursive: true, force: true });
    }
  }
}
