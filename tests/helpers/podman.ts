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
  /** The global flags and environment, for tools that run podman themselves (podman-compose). */
  globalArgs: readonly string[];
  env: NodeJS.ProcessEnv;
} {
  const conf = join(dir, "containers.conf");
  writeFileSync(
    conf,
    '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n',
  );
  const globalArgs = [
    "--storage-driver",
    "vfs",
    "--root",
    join(dir, "podman/storage"),
    "--runroot",
    join(dir, "podman/run"),
  ];
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const run = (args: readonly string[]) =>
    spawnSync("podman", [...globalArgs, ...args], {
      env,
      encoding: "utf8",
      timeout: 120_000,
    });
  const ok = (args: readonly string[]) => {
    const r = run(args);
    if (r.status !== 0) throw new Error(`podman ${args.join(" ")}: ${r.stderr || r.error}`);
    return r.stdout;
  };
  return { run, ok, globalArgs, env };
}
