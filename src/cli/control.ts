/**
 * `railyard start|stop|restart NAME... | --all`: a service of the current generation, through
 * systemd, as `docker start/stop/restart` do it for a container. Each waits for systemd's result
 * and prints one line per service, with the reason when it failed.
 */
import { currentServices } from "../generations/services.js";
import { loadFor, type Command, type CommandContext } from "./context.js";

type Verb = "start" | "stop" | "restart";

const DONE: Record<Verb, string> = { start: "started", stop: "stopped", restart: "restarted" };

/** One service after the job: what a user reads, and why when it did not go as asked. */
export interface ControlResult {
  readonly name: string;
  readonly ok: boolean;
  readonly state: string;
  readonly mainPid: number;
  readonly reason?: string;
}

/** Whether a service ended as the verb asks, and if not, why, from `systemctl show`. Pure. */
export function judge(
  verb: Verb,
  name: string,
  s: Readonly<Record<string, string>>,
): ControlResult {
  const active = s["ActiveState"] ?? "unknown";
  const state = `${active}/${s["SubState"] ?? "?"}`;
  const mainPid = Number(s["MainPID"] ?? 0);
  const ok = verb === "stop" ? active === "inactive" || active === "failed" : active === "active";
  if (ok) return { name, ok, state, mainPid };
  const result = s["Result"];
  const status = s["ExecMainStatus"];
  const reason =
    verb === "stop"
      ? `still ${state}`
      : result && result !== "success"
        ? `${result}${status && status !== "0" ? `, exit status ${status}` : ""}`
        : `${state}`;
  return { name, ok, state, mainPid, reason };
}

function controlCommand(verb: Verb, summary: string, help: string): Command {
  return {
    name: verb,
    summary,
    usage: `railyard ${verb} NAME... | --all`,
    help,
    flags: { long: { all: false } },
    async run(ctx: CommandContext) {
      const [config, { requireSystemd, Systemctl }] = await Promise.all([
        loadFor(ctx, verb),
        import("../systemd/systemctl.js"),
      ]);
      requireSystemd(`railyard ${verb}`, config.rootless);
      const { services } = await currentServices(
        config,
        ctx.args.positionals,
        ctx.args.flags["all"] === true,
      );
      const systemctl = new Systemctl(undefined, config.rootless);
      const units = services.map(([, s]) => s.unit);
      // One job per unit, all in one transaction; systemctl waits for every one of them. A
      // failure shows in each unit's state below, so the call's own exit code is not the answer.
      const job = await systemctl.tryCall([verb, "--", ...units]);
      if (!job.ok) ctx.debug(`systemctl ${verb}: ${job.message}`);
      const states = await systemctl.show(units, [
        "ActiveState",
        "SubState",
        "MainPID",
        "Result",
        "ExecMainStatus",
      ]);
      const results = services.map(([n], i) => judge(verb, n, states[i] ?? {}));
      if (ctx.args.globals.json) ctx.out(JSON.stringify(results, null, 2));
      else {
        const w = Math.max(...results.map((r) => r.name.length));
        for (const r of results)
          ctx.out(
            r.ok
              ? `${DONE[verb].padEnd(9)} ${r.name.padEnd(w)}${r.mainPid ? `  pid ${r.mainPid}` : ""}`
              : `failed    ${r.name.padEnd(w)}  ${r.reason}. see railyard logs ${r.name}`,
          );
        if (verb === "stop" && results.some((r) => r.ok))
          ctx.info(
            "a stopped service stays stopped until railyard start, or a switch that changes it; at boot, services with autoStart start again",
          );
      }
      return results.every((r) => r.ok) ? 0 : 1;
    },
  };
}

export const startCommand = controlCommand(
  "start",
  "start services of the current generation (docker start)",
  `Starts the named services (or --all) of the current generation through systemd, waits for
each start (a service with a healthcheck: until it is healthy), and prints one line per service:
"started NAME pid N", or "failed NAME" with systemd's reason. Exits 1 if any failed.

  --all   every service of the current generation`,
);

export const stopCommand = controlCommand(
  "stop",
  "stop services of the current generation (docker stop)",
  `Stops the named services (or --all) through systemd: each gets its stopSignal, then SIGKILL
after its stopTimeout. A stopped service stays stopped until railyard start, or until a switch
that changes it (a switch leaves an unchanged service as it is). At boot, services with
autoStart start again.

  --all   every service of the current generation`,
);

export const restartCommand = controlCommand(
  "restart",
  "restart services of the current generation (docker restart)",
  `Restarts the named services (or --all) through systemd, each once, waits for each start, and
prints one line per service, with its new main PID or systemd's reason for a failure.

  --all   every service of the current generation`,
);
