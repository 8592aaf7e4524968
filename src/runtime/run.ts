import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { exec, exitStatus, type Exec } from "../util/exec.js";
import type { RootlessScope } from "../model/types.js";
import { RuntimeError } from "../errors.js";
import { runtimeGlobalArgs, runtimeRoot } from "../rootless/scope.js";
import { deleteArgs, killArgs, runArgs, stateArgs } from "./oci.js";
import type { RuntimeChoice } from "../host/detect.js";
import { EARLY_EXIT_MS, TailLines } from "./diagnose.js";
import { MOUNT, UMOUNT, isMountPoint, mountArgs, type Overlay } from "./overlay.js";

export interface ForegroundOptions {
  readonly runtime: RuntimeChoice;
  readonly name: string;
  /** The runtime id (containerId with the state dir's scope). */
  readonly id: string;
  readonly bundle: string;
  readonly stopSignal: string;
  /** Seconds between stopSignal and SIGKILL after Ctrl-C or SIGTERM. */
  readonly stopTimeout: number;
  readonly log?: (m: string) => void;
  readonly exec?: Exec;
  /** The network script (network "private" or named): `up` before the runtime runs, `down` after. */
  readonly networkScript?: string;
  /** Signals to watch (the CLI passes `process`); absent in tests that drive signals themselves. */
  readonly signals?: Pick<NodeJS.Process, "on" | "off">;
  /** `railyard --user`: the runtime keeps its state under the user's runtime dir. */
  readonly rootless?: RootlessScope;
  /** A writable image root: mounted before the runtime runs, unmounted after. */
  readonly overlay?: Overlay;
  /** The spec has a terminal: stdio is the runtime's, untouched. */
  readonly terminal?: boolean;
  /**
   * Called when the container fails within EARLY_EXIT_MS of its start, with the last lines of its
   * stderr (passed through to ours as it comes, then kept for this).
   */
  readonly explain?: (stderrTail: readonly string[], status: number, ms: number) => void;
}

/**
 * Delete a stale container that a killed runtime or `railyard run` left behind (its state dir
 * outlives it), so that the id can be used again. A container that is still alive is left alone:
 * resolves with its bundle path for it, and true when the id is free.
 */
export async function clearStaleContainer(
  runtimePath: string,
  id: string,
  run: Exec = exec,
  rootless?: RootlessScope,
): Promise<true | { readonly bundle: string }> {
  // runc keeps a container's state under <root>/<id> (/run/runc/<id> for root).
  const dir = `${runtimeRoot(runtimePath, rootless)}/${id}`;
  if (!existsSync(dir)) return true;
  const g = runtimeGlobalArgs(runtimePath, rootless);
  const st = await run(runtimePath, [...g, ...stateArgs(id)]);
  if (st.code === 0) {
    const s = JSON.parse(st.stdout) as { status?: string; bundle?: string };
    if (s.status === "running" || s.status === "paused" || s.status === "created")
      return { bundle: s.bundle ?? "" };
  }
  // A start killed half way leaves runc's bind-mounted copy of itself here, which would make the
  // delete fail (see stopPostDelete in systemd/unit.ts).
  if (!rootless)
    for (const f of readdirSync(dir).filter((e) => e.startsWith("runc.")))
      await run("umount", [`${dir}/${f}`]);
  await run(runtimePath, [...g, ...deleteArgs(id)]);
  return true;
}

/**
 * Run a bundle in the foreground: stdio passes straight through to the runtime. Ctrl-C or SIGTERM
 * sends the container its stopSignal, then SIGKILL after stopTimeout (at once on a second signal).
 * Resolves with the container's exit status; the runtime state is always deleted afterwards.
 */
export async function runForeground(o: ForegroundOptions): Promise<number> {
  const run = o.exec ?? exec;
  const log = o.log ?? (() => {});
  const id = o.id;
  const g = runtimeGlobalArgs(o.runtime.path, o.rootless);
  const live = await clearStaleContainer(o.runtime.path, id, run, o.rootless);
  if (live !== true) {
    // Advise stopping it only when it is ours: same id, but maybe another project's container.
    const bundle = live.bundle;
    const stateDir = dirname(dirname(o.bundle));
    const ours = bundle === "" || bundle.startsWith(`${stateDir}/`);
    throw new RuntimeError(
      ours
        ? `container ${o.name} is already running (${o.runtime.name} id ${id}). stop it first: systemctl stop its service, or ${o.runtime.name} kill ${id} KILL`
        : `the ${o.runtime.name} id ${id} is taken by a container this state dir did not start (its bundle is ${bundle}). railyard names runtime ids after the container: rename this container, or stop that one from its own project`,
      o.runtime.name,
    );
  }
  if (o.overlay) {
    // A killed run can leave its root mounted; no container uses it now (checked above).
    if (isMountPoint(readFileSync("/proc/self/mountinfo", "utf8"), o.overlay.target))
      await run(UMOUNT, [o.overlay.target]);
    const m = await run(MOUNT, mountArgs(o.overlay, o.name));
    if (m.code !== 0)
      throw new RuntimeError(
        `cannot mount the root of ${o.name} at ${o.overlay.target}: ${m.stderr.trim() || `exit ${m.code}`}`,
        o.runtime.name,
      );
  }
  const unmount = async () => {
    if (o.overlay) await run(UMOUNT, [o.overlay.target]);
  };
  if (o.networkScript) {
    const up = await run("/bin/sh", [o.networkScript, "up"]);
    if (up.code !== 0) {
      await run("/bin/sh", [o.networkScript, "down"]);
      await unmount();
      throw new RuntimeError(
        `cannot set up the network of ${o.name}: ${up.stderr.trim() || `exit ${up.code}`}`,
        o.runtime.name,
      );
    }
  }
  const argv = [...g, ...runArgs(id, o.bundle)];
  log(`${o.runtime.path} ${argv.join(" ")}`);
  // Without a terminal, stderr passes through us so that an early death can be explained; stdout
  // stays the caller's own (a pipe would change how the program buffers it).
  const tail = new TailLines();
  const started = Date.now();
  const child = spawn(o.runtime.path, argv, {
    stdio: o.terminal || !o.explain ? "inherit" : ["inherit", "inherit", "pipe"],
  });
  child.stderr?.on("data", (b: Buffer) => {
    process.stderr.write(b);
    tail.push(b.toString());
  });

  let stopping = false;
  let killTimer: NodeJS.Timeout | undefined;
  const kill = (sig: string) => void run(o.runtime.path, [...g, ...killArgs(id, sig)]);
  const onSignal = () => {
    if (stopping) {
      log("second signal: SIGKILL");
      return kill("SIGKILL");
    }
    stopping = true;
    log(`stopping ${o.name}: ${o.stopSignal}, SIGKILL after ${o.stopTimeout}s`);
    kill(o.stopSignal);
    killTimer = setTimeout(() => kill("SIGKILL"), o.stopTimeout * 1000);
    killTimer.unref();
  };
  o.signals?.on("SIGINT", onSignal);
  o.signals?.on("SIGTERM", onSignal);
  o.signals?.on("SIGHUP", onSignal);
  try {
    const status = await new Promise<number>((resolve, reject) => {
      child.on("error", (e) =>
        reject(new RuntimeError(`cannot start ${o.runtime.path}: ${e.message}`, o.runtime.name)),
      );
      child.on("close", (code, signal) => resolve(exitStatus(code, signal)));
    });
    const ms = Date.now() - started;
    if (status !== 0 && !stopping && ms < EARLY_EXIT_MS) o.explain?.(tail.get(), status, ms);
    return status;
  } finally {
    if (killTimer) clearTimeout(killTimer);
    o.signals?.off("SIGINT", onSignal);
    o.signals?.off("SIGTERM", onSignal);
    o.signals?.off("SIGHUP", onSignal);
    if (existsSync(`${runtimeRoot(o.runtime.path, o.rootless)}/${id}`))
      await run(o.runtime.path, [...g, ...deleteArgs(id)]);
    if (o.networkScript) await run("/bin/sh", [o.networkScript, "down"]);
    await unmount();
  }
}
