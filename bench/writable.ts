/**
 * railyard against its peers, measured side by side in one run: `npm run bench`.
 * Prints medians with min/max and ratios, and writes bench/results.json and bench/results.md.
 * Peers: bare runc, podman (with this host's settings), ldd; see bench/README.md.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { alternate, fmt, timeUntil, type Stats } from "./lib.js";
import { CLI, ENV, RUNS, log, railyard, ratio, results, work } from "./common.js";
import { pullLayout } from "./pull.js";

/** Kilobytes under `paths` (du -sk, hardlinks counted once across them). */
export const du = (paths: string[]): number =>
  paths.length === 0
    ? 0
    : Number(
        execFileSync("du", ["-skc", ...paths], { encoding: "utf8" })
          .trim()
          .split("\n")
          .pop()
          ?.split("\t")[0],
      );

/**
 * Ten writable containers of one image that is already pulled and unpacked: railyard's overlay
 * roots (the default) and hardlinked read-only roots, against `podman create` with podman's
 * overlay driver (its default as root). Each round builds ten new bundles (a new environment
 * value changes every fingerprint), as a changed config would.
 */
export async function writableBench(): Promise<void> {
  log("\n## 5. ten containers with writable roots from one image already on the host");
  const { startRegistry, push } = await import("../tests/helpers/registry.js");
  const registry = await startRegistry(join(work, "writable-registry"));
  const pstore = join(work, "writable-podman");
  const pargs = [
    "--storage-driver",
    "overlay",
    "--root",
    join(pstore, "storage"),
    "--runroot",
    join(pstore, "run"),
  ];
  const state = join(work, "writable-state");
  try {
    const ref = `${registry.host}/bench/big:v1`;
    push(pullLayout, "big", ref);
    let round = 0;
    const cfg = (readonly: boolean) => {
      const f = join(work, `writable-${round}.json`);
      const env = { ROUND: String(round++) };
      writeFileSync(
        f,
        JSON.stringify({
          stateDir: state,
          registries: { [registry.host]: { insecure: true } },
          containers: Object.fromEntries(
            Array.from({ length: 10 }, (_, i) => [
              `w${i}`,
              { image: ref, readonly, environment: env },
            ]),
          ),
        }),
      );
      return f;
    };
    // Pull and unpack once for each engine; only the per-container cost is measured.
    railyard(["--config", cfg(false), "build"]);
    execFileSync("podman", [...pargs, "pull", "-q", "--tls-verify=false", ref]);
    const bundles = () => readdirSync(join(state, "bundles")).filter((b) => b.includes("-"));
    const diskOf = { railyard: 0, "railyard read-only": 0, "podman create": 0 };
    const measure = (name: keyof typeof diskOf, f: () => Promise<number>) => async () => {
      const before = bundles();
      const podmanBefore = du([join(pstore, "storage")]);
      const t = await f();
      const added = bundles()
        .filter((b) => !before.includes(b))
        .map((b) => join(state, "bundles", b));
      // Hardlinks into the unpacked image are counted once, with the image, and taken away.
      const image = join(state, "rootfs");
      diskOf[name] =
        name === "podman create"
          ? du([join(pstore, "storage")]) - podmanBefore
          : du([image, ...added]) - du([image]);
      return t;
    };
    let c = 0;
    const s = await alternate(
      {
        railyard: measure("railyard", () =>
          timeUntil(process.execPath, [CLI, "--config", cfg(false), "build"], { env: ENV }),
        ),
        "railyard read-only": measure("railyard read-only", () =>
          timeUntil(process.execPath, [CLI, "--config", cfg(true), "build"], { env: ENV }),
        ),
        "podman create": measure("podman create", () => {
          const names = Array.from({ length: 10 }, (_, i) => `w${c}-${i}`);
          c++;
          const loop = names
            .map((nm) => `podman ${pargs.join(" ")} create -q --name ${nm} ${ref} true >/dev/null`)
            .join(" && ");
          return timeUntil("sh", ["-c", loop]);
        }),
      },
      Math.max(5, Math.floor(RUNS / 3)),
      1,
    );
    const r = s["railyard"] as Stats;
    for (const [k, v] of Object.entries(s))
      log(
        `  ${k.padEnd(19)} ${fmt(v)}  ${diskOf[k as keyof typeof diskOf]} KiB for 10${k === "railyard" ? "" : `  railyard/peer ${ratio(r, v).toFixed(2)}x`}`,
      );
    const p = s["podman create"] as Stats;
    results.push({
      section: "writable",
      metric: "ms to build 10 writable containers of one unpacked image",
      railyard: r,
      peers: {
        "railyard read-only (hardlinks)": s["railyard read-only"] as Stats,
        "podman create x10": p,
      },
      goal: "well under 1 s each and under 1 MB each; faster than podman create",
      met: r.median < 10_000 && diskOf.railyard < 10 * 1024 && r.median < p.median,
      note: `disk for 10: railyard ${diskOf.railyard} KiB, read-only ${diskOf["railyard read-only"]} KiB, podman ${diskOf["podman create"]} KiB`,
    });
  } finally {
    await registry.stop();
    spawnSync("podman", [...pargs, "system", "reset", "-f"]);
    rmSync(pstore, { recursive: true, force: true });
  }
}
