import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * podman as a peer, never a dependency: its own storage under `dir` (vfs, so no overlay mounts
 * are left behind), and the settings this host needs (no default ulimits above the hard limit,
 * cgroupfs, runc). `run` returns the result; `ok` throws unless podman exits 0.
 */
export function podmanPeer(dir: string): {
  run: (args: readonly string[]) => SpawnSyncReturns<string>;
  ok: (args: readonly string[]) => string;
} {
  const conf = join(dir, "containers.conf");
  writeFileSync(
    conf,
    '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n',
  );
  const base = ["--storage-driver", "vfs", "--root", join(dir, "podman/storage")];
  const run = (args: readonly string[]) =>
    spawnSync("podman", [...base, "--runroot", join(dir, "podman/run"), ...args], {
      env: { ...process.env, CONTAINERS_CONF: conf },
      encoding: "utf8",
      timeout: 120_000,
    });
  const ok = (args: readonly string[]) => {
    const r = run(args);
    if (r.status !== 0) throw new Error(`podman ${args.join(" ")}: ${r.stderr || r.error}`);
    return r.stdout;
  };
  return { run, ok };
}
