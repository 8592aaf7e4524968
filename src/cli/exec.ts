/**
 * `railyard exec NAME -- CMD...`: a command in a running container, as `docker exec` runs it.
 * The OCI runtime's exec starts from the container's own process spec (its user, environment,
 * working directory, capabilities and seccomp filter), and the flags override those; the docker
 * and podman backends call their engine's exec. stdio passes through, with a TTY on -t; the exit
 * code comes back; SIGTERM and SIGHUP reach the command, and Ctrl-C reaches it from the terminal.
 */
import { spawn } from "node:child_process";
import { own } from "../util/record.js";
import type { ResolvedConfig, ResolvedContainer } from "../model/types.js";
import { UsageError } from "../errors.js";
import { exitStatus } from "../util/exec.js";
import { loadFor, type Command } from "./context.js";

/** The exec's argv, for the OCI runtime or the container's engine. Pure. */
export function execArgv(
  c: ResolvedContainer,
  o: {
    readonly runtime: readonly string[];
    /** The runtime's id, or the engine's name for a docker or podman container. */
    readonly id: string;
    readonly tty: boolean;
    readonly user?: string;
    readonly env: readonly string[];
    readonly cwd?: string;
    readonly command: readonly string[];
  },
): string[] {
  // runc's exec and the engines' exec take the same options under other flag names.
  const f =
    c.backend === "oci"
      ? { start: [...o.runtime, "exec"], tty: "--tty", cwd: "--cwd" }
      : { start: [c.backend, "exec", "-i"], tty: "-t", cwd: "--workdir" };
  return [
    ...f.start,
    ...(o.tty ? [f.tty] : []),
    ...(o.user ? ["--user", o.user] : []),
    ...o.env.flatMap((e) => ["--env", e]),
    ...(o.cwd ? [f.cwd, o.cwd] : []),
    o.id,
    ...o.command,
  ];
}

/**
 * `-u USER[:GROUP]` as numbers, names looked up in the container's own /etc/passwd and
 * /etc/group (through /proc/PID/root of its running init), as docker exec does.
 */
async function numericUser(spec: string, c: ResolvedContainer, pid: number): Promise<string> {
  if (/^\d+(:\d+)?$/.test(spec)) return spec;
  const [{ resolveImageUser }, { containerEtc }] = await Promise.all([
    import("../bundle/process.js"),
    import("../generations/services.js"),
  ]);
  try {
    const { user } = resolveImageUser(
      spec,
      { passwd: containerEtc(pid, "passwd"), group: containerEtc(pid, "group") },
      "--user",
      c.name,
    );
    return `${user.uid}:${user.gid}`;
  } catch (e) {
    throw new UsageError(
      (e as Error).message.replace("the image's", `${c.name}'s`).replace(/ use a numeric.*$/, ""),
    );
  }
}

export const execCommand: Command = {
  name: "exec",
  summary: "run a command in a running container (docker exec)",
  usage: "railyard exec [-t] [-u USER] [-e K=V]... [-w DIR] NAME -- CMD [ARGS...]",
  help: `Runs CMD in the running container NAME, as its own process runs: same user, environment,
working directory, capabilities and seccomp filter, unless a flag says otherwise. stdin, stdout
and stderr pass through; the exit code is CMD's.

  -t, --tty          give CMD a terminal (docker exec -it), for a shell: railyard exec -t db -- sh
  -u, --as USER      run as USER[:GROUP], a name of the container's /etc/passwd or a number
                     (docker's -u; --user is railyard's rootless mode)
  -e, --env K=V      set a variable (again for more)
  -w, --workdir DIR  run in DIR

  railyard exec db -- psql -U postgres     (docker exec -it db psql -U postgres)
  railyard exec -u www-data web -- php occ status`,
  flags: {
    long: { tty: false, as: true, env: true, workdir: true },
    short: { t: "tty", u: "as", e: "env", w: "workdir" },
    repeat: ["env"],
  },
  async run(ctx) {
    const [name, ...more] = ctx.args.positionals;
    const command = ctx.args.rest ?? more;
    if (!name || command.length === 0 || (ctx.args.rest && more.length > 0))
      throw new UsageError(`usage: ${this.usage}`);
    const env = ctx.args.lists["env"] ?? [];
    for (const e of env)
      if (!/^[^=]+=/.test(e))
        throw new UsageError(`--env takes KEY=VALUE, got ${JSON.stringify(e)}`);
    const cwd = ctx.args.flags["workdir"];
    if (typeof cwd === "string" && !cwd.startsWith("/"))
      throw new UsageError(`--workdir takes an absolute path, got ${JSON.stringify(cwd)}`);

    const [config, { requireSystemd }, { runningService }] = await Promise.all([
      loadFor(ctx, "exec"),
      import("../systemd/systemctl.js"),
      import("../generations/services.js"),
    ]);
    requireSystemd("railyard exec", config.rootless);
    const c = own(config.containers, name);
    const { pid } = await runningService(config, name);
    if (!c) throw new UsageError(`no container named ${JSON.stringify(name)}`);
    const user = ctx.args.flags["as"];
    const argv = execArgv(c, {
      runtime: await runtimeArgv(ctx.env, config),
      // The runtime's id, or the engine's name for a docker or podman container.
      id: await (async () => {
        const ids = await import("../model/ids.js");
        return c.backend === "oci" ? ids.containerId(name, config) : ids.engineName(name, config);
      })(),
      tty: ctx.args.flags["tty"] === true,
      ...(typeof user === "string" ? { user: await numericUser(user, c, pid) } : {}),
      env,
      ...(typeof cwd === "string" ? { cwd } : {}),
      command,
    });
    ctx.debug(`exec: ${argv.join(" ")}`);
    return passThrough(argv);
  },
};

/** The OCI runtime the units run, with its global flags (rootless: its state root). */
async function runtimeArgv(env: NodeJS.ProcessEnv, config: ResolvedConfig): Promise<string[]> {
  const [{ chooseRuntime, hostProbe }, { runtimeGlobalArgs }] = await Promise.all([
    import("../host/detect.js"),
    import("../rootless/scope.js"),
  ]);
  const runtime = chooseRuntime(config.runtime, hostProbe(env));
  return [runtime.path, ...runtimeGlobalArgs(runtime.path, config.rootless)];
}

/**
 * Run argv with our stdio, and resolve with its exit status. The terminal's Ctrl-C reaches the
 * child's process group by itself (the runtime forwards it into the container), so railyard only
 * outlives it; SIGTERM and SIGHUP sent to railyard are passed on.
 */
function passThrough(argv: readonly string[]): Promise<number> {
  const [cmd = "", ...args] = argv;
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: "inherit" });
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const handlers = {
      SIGINT: () => {},
      SIGTERM: forward("SIGTERM"),
      SIGHUP: forward("SIGHUP"),
    } as const;
    for (const [sig, h] of Object.entries(handlers)) process.on(sig, h);
    const done = (status: number) => {
      for (const [sig, h] of Object.entries(handlers)) process.off(sig, h);
      resolve(status);
    };
    child.on("error", (e) => {
      process.stderr.write(`railyard: cannot run ${cmd}: ${e.message}\n`);
      done(127);
    });
    child.on("close", (code, sig) => done(exitStatus(code, sig)));
  });
}
