import { existsSync } from "node:fs";
import type { RootlessScope } from "../model/types.js";
import { SystemdError } from "../errors.js";
import { managerFlags } from "../rootless/scope.js";
import { exec, type Exec } from "../util/exec.js";

/** sd_booted(3): systemd is the init system when /run/systemd/system exists. */
export function systemdBooted(root = "/"): boolean {
  return existsSync(`${root === "/" ? "" : root}/run/systemd/system`);
}

export function requireSystemd(what: string, rootless?: RootlessScope): void {
  if (!systemdBooted())
    throw new SystemdError(
      `${what} needs systemd as the init system, and this host does not run it (no /run/systemd/system). ` +
        "railyard run NAME still runs a container in the foreground",
    );
  // The user manager's private socket, which `systemctl --user` talks to (no D-Bus needed).
  if (rootless && !existsSync(`${rootless.runtimeDir}/systemd/private`))
    throw new SystemdError(
      `${what} --user needs ${rootless.user}'s systemd user manager, and it is not running ` +
        `(no ${rootless.runtimeDir}/systemd/private). as root: loginctl enable-linger ${rootless.user}`,
    );
}

/** The systemctl calls railyard makes, through the one subprocess wrapper. */
export class Systemctl {
  private readonly flags: readonly string[];
  /** `rootless` talks to that user's manager (`systemctl --user`). */
  constructor(
    private readonly run: Exec = exec,
    rootless?: RootlessScope,
  ) {
    this.flags = ["--no-pager", "--no-ask-password", ...managerFlags(rootless)];
  }

  async call(args: readonly string[]): Promise<string> {
    const r = await this.run("systemctl", [...this.flags, ...args]);
    if (r.code !== 0)
      throw new SystemdError(
        `systemctl ${args.join(" ")} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`,
      );
    return r.stdout;
  }

  /** Like call, but reports failure instead of throwing (a unit that failed to start). */
  async tryCall(args: readonly string[]): Promise<{ ok: boolean; message: string }> {
    const r = await this.run("systemctl", [...this.flags, ...args]);
    return { ok: r.code === 0, message: (r.stderr || r.stdout).trim() };
  }

  /** Properties of several units at once, in the order given. */
  async show(
    units: readonly string[],
    props: readonly string[],
  ): Promise<Record<string, string>[]> {
    if (units.length === 0) return [];
    const out = await this.call([
      "show",
      "--timestamp=unix",
      ...props.flatMap((p) => ["-p", p]),
      "--",
      ...units,
    ]);

    return out
      .split(/\n\n/)
      .filter((b) => b.trim() !== "")
      .map((block) =>
        Object.fromEntries(
          block
            .split("\n")
            .filter(Boolean)
            .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
        ),
      );
  }
}
