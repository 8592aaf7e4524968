/**
 * `railyard top NAME`: the processes of a service's container, as `docker top` lists them, with
 * both pids (the host's and the container's) and both uids, read from the unit's cgroup and /proc.
 */
import { oneName } from "./select.js";
import { loadFor, type Command } from "./context.js";

export const topCommand: Command = {
  name: "top",
  summary: "the processes running in a container, with host and container pids (docker top)",
  usage: "railyard top NAME [--json]",
  help: `Lists the processes of a service's container, from its cgroup: the host's pid and the
pid inside the container, the user inside (a name from the container's /etc/passwd) and the uid
on the host (they differ in rootless containers), and the command line.`,
  flags: { long: {} },
  async run(ctx) {
    const name = oneName(ctx.args.positionals, this.usage);
    const [
      config,
      { runningService, containerEtc },
      { requireSystemd },
      { processRows },
      { userNames },
    ] = await Promise.all([
      loadFor(ctx, "top"),
      import("../generations/services.js"),
      import("../systemd/systemctl.js"),
      import("../runtime/cgroup.js"),
      import("../bundle/process.js"),
    ]);
    requireSystemd("railyard top", config.rootless);
    const { pid, show } = await runningService(config, name, ["ControlGroup"]);
    // A container without /etc/passwd shows numbers.
    const names = userNames(containerEtc(pid, "passwd"));
    const rows = processRows(show["ControlGroup"] ?? "").map((r) => ({
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
