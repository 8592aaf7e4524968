/**
 * `railyard top NAME`: the processes of a service's container, as `docker top` lists them, with
 * both pids (the host's and the container's) and both uids, read from the unit's cgroup and /proc.
 */
import { readFileSync } from "node:fs";
import { RailyardError, UsageError } from "../errors.js";
import { loadFor, type Command } from "./context.js";

/** uid -> name from a passwd file's text. Pure. */
export function userNames(passwd: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const l of passwd.split("\n")) {
    const f = l.split(":");
    if (f.length >= 3 && f[0] && /^\d+$/.test(f[2] ?? "") && !out.has(Number(f[2])))
      out.set(Number(f[2]), f[0]);
  }
  return out;
}

export const topCommand: Command = {
  name: "top",
  summary: "the processes running in a container, with host and container pids (docker top)",
  usage: "railyard top NAME [--json]",
  help: `Lists the processes of a service's container, from its cgroup: the host's pid and the
pid inside the container, the user inside (a name from the container's /etc/passwd) and the uid
on the host (they differ in rootless containers), and the command line.`,
  flags: { long: {} },
  async run(ctx) {
    const [name, ...more] = ctx.args.positionals;
    if (!name || more.length > 0) throw new UsageError(`usage: ${this.usage}`);
    const [config, { currentServices }, { Systemctl, requireSystemd }, { processRows }] =
      await Promise.all([
        loadFor(ctx, "top"),
        import("./control.js"),
        import("../systemd/systemctl.js"),
        import("../runtime/cgroup.js"),
      ]);
    requireSystemd("railyard top", config.rootless);
    const { services } = await currentServices(config, [name], false);
    const [, entry] = services[0] ?? [];
    if (!entry) throw new UsageError(`no service ${JSON.stringify(name)}`);
    const [s] = await new Systemctl(undefined, config.rootless).show(
      [entry.unit],
      ["ActiveState", "MainPID", "ControlGroup"],
    );
    const pid = Number(s?.["MainPID"] ?? 0);
    if (s?.["ActiveState"] !== "active" || !s["ControlGroup"])
      throw new RailyardError(
        `${name} is not running (${s?.["ActiveState"] ?? "unknown"}). railyard start ${name}`,
      );
    let passwd = "";
    try {
      passwd = readFileSync(`/proc/${pid}/root/etc/passwd`, "utf8");
    } catch {
      // a container without /etc/passwd shows numbers
    }
    const names = userNames(passwd);
    const rows = processRows(s["ControlGroup"]).map((r) => ({
      ...r,
      user: names.get(r.uid) ?? String(r.uid),
    }));
    if (ctx.args.globals.json) {
      ctx.out(JSON.stringify(rows, null, 2));
      return 0;
    }
    const w = (k: "pid" | "containerPid" | "user" | "hostUid", h: string) =>
      Math.max(h.length, ...rows.map((r) => String(r[k]).length));
    const cols = {
      pid: w("pid", "PID"),
      cpid: w("containerPid", "CPID"),
      user: w("user", "USER"),
      uid: w("hostUid", "HOST-UID"),
    };
    ctx.out(
      `${"PID".padStart(cols.pid)}  ${"CPID".padStart(cols.cpid)}  ${"USER".padEnd(cols.user)}  ${"HOST-UID".padStart(cols.uid)}  COMMAND`,
    );
    for (const r of rows)
      ctx.out(
        `${String(r.pid).padStart(cols.pid)}  ${String(r.containerPid).padStart(cols.cpid)}  ${r.user.padEnd(cols.user)}  ${String(r.hostUid).padStart(cols.uid)}  ${r.command}`,
      );
    return 0;
  },
};
