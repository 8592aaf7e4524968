/**
 * A real systemd for tests, booted as PID 1 of new pid+mount namespaces (the recipe in
 * DEVELOPERS.md): an overlay over / with its own upper directory, fresh proc, sysfs, /run, /tmp
 * and cgroup2, then pivot_root and exec systemd. `binds` are host directories shared into it,
 * so what the services write there can be checked from outside; the clone itself is bound in
 * read-only, so the suite runs from any directory, /tmp included.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  rmSync,
  statSync,
} from "node:fs";
import { join } from "node:path";
import { CLI, REPO_ROOT } from "./paths.js";
import { scratchDir, type CliResult } from "./cli.js";
import { after, before } from "node:test";

const BOOT = `set -e
W=$1; shift
mount --make-rprivate /
# With a network namespace of its own (--net), only loopback exists; bring it up.
ip link set lo up
mkdir -p "$W/upper" "$W/work" "$W/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$W/upper,workdir=$W/work" "$W/root"
N=$W/root
mount -t proc proc "$N/proc"
mount -t sysfs sysfs "$N/sys"
mount --rbind /dev "$N/dev"
mount -t tmpfs tmpfs "$N/run"
mount -t tmpfs tmpfs "$N/tmp"
mount -t cgroup2 cgroup2 "$N/sys/fs/cgroup"
for b in "$@"; do mkdir -p "$N$b"; mount --bind "$b" "$N$b"; done
# The clone the tests run from, read-only: under /tmp (or /run) the fresh tmpfs above would hide
# it, and nothing a test runs in here may write into the work tree.
mkdir -p "$N$REPO"; mount --bind "$REPO" "$N$REPO"; mount -o remount,bind,ro "$N$REPO"
cd "$N"
mkdir -p oldroot
pivot_root . oldroot
umount -l /oldroot
# Shared within this namespace (new peer groups: the host's were made private above), as a
# booted host's / is: systemd's credentials, set up in a child namespace, propagate back.
mount --make-rshared /
exec env -i container=other PATH=/usr/sbin:/usr/bin:/sbin:/bin /lib/systemd/systemd --system --log-target="$LOG_TARGET"
`;

/**
 * Poll `f` every 100 ms until it holds; after `ms`, fail with `what` and, if given, `explain()`
 * (the journal or the host's state at that moment).
 */
export async function waitFor(
  what: string,
  f: () => boolean,
  ms = 15_000,
  explain?: () => string,
): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end)
      assert.fail(`timed out waiting for ${what}${explain ? `\n${explain()}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `systemctl show` output (KEY=value lines) as a record. */
export function parseShow(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

export interface BootedSystemd {
  /** systemd's PID as the host sees it. */
  readonly pid: number;
  /** Run a command inside the namespaces. */
  exec(
    cmd: string,
    args: readonly string[],
    o?: { env?: NodeJS.ProcessEnv; input?: string },
  ): CliResult;
  /** Run the railyard CLI inside the namespaces (asynchronously, so tests can race it). */
  railyard(args: readonly string[], o?: { env?: NodeJS.ProcessEnv }): Promise<CliResult>;
  /** `systemctl show` properties of a unit. */
  show(unit: string, ...props: string[]): Record<string, string>;
  stop(): Promise<void>;
}

/** The host's cgroup2 hierarchy that a fresh cgroup2 mount in the namespace shares. */
function unifiedRoot(): string {
  return existsSync("/sys/fs/cgroup/unified/cgroup.procs")
    ? "/sys/fs/cgroup/unified"
    : "/sys/fs/cgroup";
}

/** Remove cgroup directories (empty after the namespace died) depth-first. */
function rmCgroupTree(dir: string): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(dir).filter((e) => statSync(join(dir, e)).isDirectory());
  } catch {
    return;
  }
  for (const e of entries) rmCgroupTree(join(dir, e));
  try {
    rmdirSync(dir);
  } catch {
    // still busy or already gone
  }
}

export interface BootOptions {
  /**
   * A network namespace of its own (only loopback), for tests that change the host's networking:
   * bridges, links and nftables rules stay in it, and die with it. Without it, the namespace
   * shares the host's network (and so reaches a registry on the host's loopback).
   */
  readonly isolateNetwork?: boolean;
  /**
   * systemd's own messages ("Started …", a main process's exit) to the journal, as a host's
   * manager logs them (railyard events reads them). Off by default: the other tests read a
   * unit's journal as its container's output alone.
   */
  readonly managerLog?: boolean;
}

export async function bootSystemd(
  work: string,
  binds: readonly string[],
  o: BootOptions = {},
): Promise<BootedSystemd> {
  mkdirSync(work, { recursive: true });
  const cgRoot = unifiedRoot();
  const before = new Set(readdirSync(cgRoot));
  const unshare: ChildProcess = spawn(
    "unshare",
    [
      "--pid",
      "--fork",
      "--mount",
      ...(o.isolateNetwork ? ["--net"] : []),
      "--",
      "/bin/sh",
      "-c",
      BOOT,
      "boot",
      work,
      ...binds,
    ],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, LOG_TARGET: o.managerLog ? "journal" : "null", REPO: REPO_ROOT },
    },
  );
  let stderr = "";
  unshare.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
  // systemd is unshare's forked child, once it has exec'd.
  let pid = 0;
  for (let i = 0; i < 200 && pid === 0; i++) {
    await new Promise((r) => setTimeout(r, 25));
    if (unshare.exitCode !== null) throw new Error(`systemd namespace failed to start: ${stderr}`);
    try {
      const child = Number(
        readFileSync(`/proc/${unshare.pid}/task/${unshare.pid}/children`, "utf8")
          .trim()
          .split(/\s+/)[0],
      );
      if (child > 0 && readFileSync(`/proc/${child}/comm`, "utf8").trim() === "systemd")
        pid = child;
    } catch {
      // not yet
    }
  }
  if (pid === 0) throw new Error(`systemd did not start: ${stderr}`);
  const ns = ["-t", String(pid), "-m", "-p", ...(o.isolateNetwork ? ["-n"] : []), "--"];
  const exec = (
    cmd: string,
    args: readonly string[],
    o: { env?: NodeJS.ProcessEnv; input?: string } = {},
  ): CliResult => {
    const r = spawnSync("nsenter", [...ns, cmd, ...args], {
      encoding: "utf8",
      env: o.env ?? process.env,
      ...(o.input !== undefined ? { input: o.input } : {}),
      timeout: 120_000,
    });
    return { code: r.status, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  const kill = () => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  // If the test process dies first, take the namespace with it.
  process.once("exit", kill);
  let state: CliResult = { code: 1, signal: null, stdout: "", stderr: "" };
  for (let i = 0; i < 200; i++) {
    state = exec("systemctl", ["is-system-running", "--wait"]);
    if (/running|degraded/.test(state.stdout)) break;
    await new Promise((r) => setTimeout(r, 50)); // the manager's socket is not there yet
  }
  if (!/running|degraded/.test(state.stdout)) {
    kill();
    throw new Error(`systemd did not come up: ${state.stdout} ${state.stderr}`);
  }
  return {
    pid,
    exec,
    railyard: (args, o = {}) =>
      new Promise((resolve, reject) => {
        const child = spawn("nsenter", [...ns, process.execPath, CLI, ...args], {
          env: o.env ?? { ...process.env, RAILYARD_CONFIG: "" },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        let err = "";
        child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
        child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
        child.on("error", reject);
        child.on("close", (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
      }),
    show(unit, ...props) {
      const r = exec("systemctl", [
        "show",
        "--timestamp=unix",
        ...props.flatMap((p) => ["-p", p]),
        unit,
      ]);
      return parseShow(r.stdout);
    },
    async stop() {
      // SIGKILL to PID 1 of the namespace ends every process in it; never kill by name.
      kill();
      process.off("exit", kill);
      await new Promise<void>((r) =>
        unshare.exitCode !== null || unshare.signalCode !== null
          ? r()
          : unshare.on("close", () => r()),
      );
      for (const e of readdirSync(cgRoot))
        if (!before.has(e) && statSync(join(cgRoot, e)).isDirectory())
          rmCgroupTree(join(cgRoot, e));
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/**
 * A test file's own systemd over its own scratch dir (shared with the namespace): booted before
 * the file's tests, stopped and removed after them. `sd` forwards to the booted instance.
 */
export function systemdSuite(
  prefix: string,
  o: BootOptions = {},
): { dir: string; sd: BootedSystemd } {
  const { dir, cleanup } = scratchDir(prefix);
  let booted: BootedSystemd | undefined;
  before(async () => {
    booted = await bootSystemd(join(dir, "ns"), [dir], o);
  });
  after(async () => {
    await booted?.stop();
    cleanup();
  });
  const sd = new Proxy({} as BootedSystemd, {
    get(_, key: keyof BootedSystemd) {
      if (!booted) throw new Error("systemd is not booted yet (use it inside a test)");
      const v = booted[key];
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(booted) : v;
    },
  });
  return { dir, sd };
}
