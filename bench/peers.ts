/**
 * railyard against its peers, measured side by side in one run: `npm run bench`.
 * Prints medians with min/max and ratios, and writes bench/results.json and bench/results.md.
 * Peers: bare runc, podman (with this host's settings), ldd; see bench/README.md.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { ms, timeUntil } from "./lib.js";
import { work } from "./common.js";

/** A hand-made runc bundle: `runc spec` plus busybox, the way a person would do it. */
export function bareBundle(): string {
  const b = join(work, "bare");
  mkdirSync(join(b, "rootfs/bin"), { recursive: true });
  copyFileSync("/bin/busybox", join(b, "rootfs/bin/busybox"));
  chmodSync(join(b, "rootfs/bin/busybox"), 0o755);
  execFileSync("runc", ["spec"], { cwd: b });
  const spec = JSON.parse(readFileSync(join(b, "config.json"), "utf8")) as {
    process: { terminal: boolean; args: string[] };
  };
  spec.process.terminal = false;
  spec.process.args = ["/bin/busybox", "echo", "ready"];
  writeFileSync(join(b, "config.json"), JSON.stringify(spec));
  return b;
}

export let podmanReady: string | undefined;
export function podmanSetup(): string | undefined {
  if (podmanReady !== undefined) return podmanReady;
  if (spawnSync("podman", ["--version"]).status !== 0) return undefined;
  const conf = join(work, "containers.conf");
  writeFileSync(
    conf,
    '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n',
  );
  process.env["CONTAINERS_CONF"] = conf;
  // A busybox image, built with umoci, pulled into podman's own storage from its OCI layout.
  const layout = join(work, "layout");
  execFileSync("umoci", ["init", "--layout", layout]);
  execFileSync("umoci", ["new", "--image", `${layout}:bb`]);
  const bundle = join(work, "umoci-bundle");
  execFileSync("umoci", ["unpack", "--image", `${layout}:bb`, bundle]);
  mkdirSync(join(bundle, "rootfs/bin"), { recursive: true });
  copyFileSync("/bin/busybox", join(bundle, "rootfs/bin/busybox"));
  execFileSync("umoci", ["repack", "--image", `${layout}:bb`, bundle]);
  podmanReady = join(work, "podman");
  const id = podman(["pull", "-q", `oci:${layout}:bb`]).trim();
  podman(["tag", id, "localhost/bb"]);
  return podmanReady;
}
/** podman with its own vfs storage in the work dir (no overlay mounts to leave behind). */
export const PODMAN = [
  "--storage-driver",
  "vfs",
  "--root",
  join(work, "podman/storage"),
  "--runroot",
  join(work, "podman/run"),
];
export const podman = (args: string[]) =>
  execFileSync("podman", [...PODMAN, ...args], {
    encoding: "utf8",
  });

/** Wait until no process mentions `needle` on its command line (podman's detached cleanup). */
export async function settle(needle: string, timeoutMs = 5000): Promise<void> {
  const t0 = Date.now();
  const busy = () =>
    readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
      .some((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(needle);
        } catch {
          return false; // gone meanwhile
        }
      });
  while (busy() && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 20));
}

/**
 * One Exec line's argv as systemd splits it: words, double-quoted words with backslash escapes,
 * and `$$`/`%%` for a literal `$`/`%` (the quoting execQuote writes).
 */
export function execWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    const w =
      m[1] !== undefined
        ? m[1].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))
        : (m[2] ?? "");
    words.push(w.replace(/\$\$/g, "$").replace(/%%/g, "%"));
  }
  return words;
}

/** A unit's Environment= and its ExecStartPre=, ExecStart= and ExecStopPost= argvs, in order. */
export function unitCommands(unitFile: string): {
  env: NodeJS.ProcessEnv;
  pre: string[][];
  start: string[];
  postStop: string[][];
} {
  const text = readFileSync(unitFile, "utf8");
  const lines = (key: string) =>
    [...text.matchAll(new RegExp(`^${key}=-?(.*)$`, "gm"))].map((m) => execWords(m[1] ?? ""));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const kv of lines("Environment").flat())
    env[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
  return {
    env,
    pre: lines("ExecStartPre"),
    start: lines("ExecStart")[0] ?? [],
    postStop: lines("ExecStopPost"),
  };
}

/** Run a unit as systemd would, timed until `marker`: ExecStartPre=, ExecStart=; then stop. */
export function unitPeer(unitFile: string, marker: string): () => Promise<number> {
  const unit = unitCommands(unitFile);
  const [startCmd, ...startArgs] = unit.start;
  if (!startCmd || unit.postStop.length === 0)
    throw new Error(`unexpected unit ${unitFile}: no ExecStart= or ExecStopPost=`);
  return async () => {
    const t0 = process.hrtime.bigint();
    for (const [cmd, ...args] of unit.pre) if (cmd) spawnSync(cmd, args, { env: unit.env });
    const t = ms(t0) + (await timeUntil(startCmd, startArgs, { marker }));
    // ExecStopPost=, after the measurement as under systemd.
    for (const [cmd, ...args] of unit.postStop) if (cmd) spawnSync(cmd, args, { env: unit.env });
    return t;
  };
}
