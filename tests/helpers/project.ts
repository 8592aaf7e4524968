/** A fresh railyard project per test: its own state dir and a JSON config rewritten in place. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Project {
  readonly state: string;
  readonly file: string;
  /** Rewrite the config with these containers (and top-level keys); returns `--config FILE`. */
  write(containers: Record<string, unknown>, top?: Record<string, unknown>): string[];
}

/** Projects under `dir`, numbered p0, p1, … */
export function projects(dir: string): () => Project {
  let n = 0;
  return () => {
    const home = join(dir, `p${n++}`);
    mkdirSync(home, { recursive: true });
    const file = join(home, "railyard.config.json");
    const state = join(home, "state");
    return {
      state,
      file,
      write(containers, top = {}) {
        writeFileSync(
          file,
          JSON.stringify({ stateDir: state, runtime: "runc", ...top, containers }, null, 2),
        );
        return ["--config", file];
      },
    };
  };
}

/** A well-behaved long-running program: as PID 1 it must handle SIGTERM itself to stop at once. */
export const sleeper = (msg: string) => ({
  args: ["/bin/busybox", "sh", "-c", `trap 'exit 0' TERM; echo ${msg}; while :; do sleep 1; done`],
});

/**
 * A program that says `msg` and exits 1 soon after it started: systemd restarts it every 2 s.
 * The 0.3 s make its start succeed first (systemd has read its PID file), as a real service
 * that fails on its data does; exiting at once may also fail the start itself.
 */
export const crasher = (msg: string) => ({
  args: [
    "/bin/busybox",
    "sh",
    "-c",
    `echo ${msg}; echo "fatal: cannot open data"; sleep 0.3; exit 1`,
  ],
});
