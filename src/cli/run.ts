import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { OciSpec } from "../bundle/spec.js";
import type { ResolvedConfig, ResolvedContainer } from "../model/types.js";
import type { NetworkAllocation } from "../network/allocate.js";
import { UsageError } from "../errors.js";
import { selectContainers, oneName } from "./select.js";
import { loadFor, type Command } from "./context.js";
import { containerId } from "../model/ids.js";

/** A copy of a built spec for one interactive run: a TTY and/or extra arguments. Pure. */
export function specForRun(
  spec: OciSpec,
  o: {
    terminal: boolean;
    extraArgs: readonly string[];
    rootPath: string;
    limits: Pick<OciSpec["linux"]["resources"], "memory" | "cpu" | "pids">;
  },
): OciSpec {
  const env = spec.process.env.filter((e) => !e.startsWith("TERM="));
  if (o.terminal) env.push("TERM=xterm");
  // Outside systemd the runtime makes its own cgroup and applies the limits there.
  const { cgroupsPath: _unitCgroup, ...linux } = spec.linux;
  return {
    ...spec,
    linux: { ...linux, resources: { ...linux.resources, ...o.limits } },

    process: {
      ...spec.process,
      terminal: o.terminal,
      args: [...spec.process.args, ...o.extraArgs],
      env,
    },
    root: { ...spec.root, path: o.rootPath },
  };
}

/**
 * The network script of a run outside systemd: the running generation's addresses (a container
 * keeps its own, a new one gets a free one), and its named network's hosts file published.
 */
async function runNetwork(
  config: ResolvedConfig,
  c: ResolvedContainer,
  bundle: string,
  alloc: NetworkAllocation,
): Promise<string | undefined> {
  const [{ containerNetwork, renderNetScript }, { publishHosts }] = await Promise.all([
    import("../network/script.js"),
    import("../network/files.js"),
  ]);
  if (config.rootless) return undefined; // pasta, from the bundle's hook
  const net = containerNetwork(c, alloc, config);
  if (!net) return undefined;
  if (c.networks.length > 0) publishHosts(config, alloc);
  const script = join(bundle, "network.sh");
  writeFileSync(script, renderNetScript(net), { mode: 0o700 });
  return script;
}

export const runCommand: Command = {
  name: "run",
  summary: "build if needed, then run one container in the foreground",
  usage: "railyard run NAME [-t] [-- ARGS...]",
  help: `Runs the container with the OCI runtime in the foreground; stdin, stdout and stderr pass
straight through and the exit code is the container's. Builds the bundle first when the config or
the host files it uses changed. Ctrl-C or SIGTERM sends the container its stopSignal and, after
stopTimeout seconds (or on a second Ctrl-C), SIGKILL; the runtime state is cleaned up either way.

  -t, --tty   allocate a terminal (for an interactive first run, e.g. to paste a token)
  -- ARGS     extra arguments appended to the container's args`,
  flags: { long: { tty: false }, short: { t: "tty" } },
  async run(ctx) {
    const name = oneName(ctx.args.positionals, this.usage);
    const [
      config,
      { buildContainer },
      { limitsFor, parseSpec, serializeSpec },
      { effectiveCapabilities },
      { chooseRuntime, hostProbe },
      { runForeground },
      { diagnose },
      { runDir },
      { mergeStartEnv },
      { readEnvFiles },
    ] = await Promise.all([
      loadFor(ctx, "run"),
      import("../bundle/build.js"),
      import("../bundle/spec.js"),
      import("../model/capabilities.js"),
      import("../host/detect.js"),
      import("../runtime/run.js"),
      import("../runtime/diagnose.js"),
      import("../rootless/scope.js"),
      import("../bundle/env-files.js"),
      import("../bundle/host.js"),
    ]);
    const [c] = selectContainers(config, [name]);
    if (!c) throw new UsageError(`no container named ${name}`);
    // The addresses it keeps (or gets): its extraHosts' host-gateway and its network need them.
    const { allocateFromRunning } = await import("../generations/build.js");
    const alloc = allocateFromRunning(config);
    const built = await buildContainer(config, c, {
      log: ctx.debug,
      warn: ctx.info,
      env: ctx.env,
      alloc,
    });
    if (c.healthcheck)
      ctx.info(`note: ${c.name}'s healthcheck runs under systemd (railyard switch), not in run`);
    ctx.debug(built.changed ? `built ${built.bundle}` : `bundle ${built.bundle} is up to date`);
    const runtime = chooseRuntime(config.runtime, hostProbe(ctx.env));
    ctx.debug(`runtime: ${runtime.name} (${runtime.reason})`);

    // The built bundle stays as its systemd unit runs it; this run gets its own config.json:
    // its own cgroup with the limits applied by the runtime, any TTY or extra arguments, and
    // the environmentFiles as they read now. On /run, as a unit's start composes it: it may
    // hold their values, which no file under the state dir does.
    // Named by the runtime id: two projects may run a container of the same name at once.
    const bundle = join(runDir(config.rootless), "run", containerId(c.name, config));
    mkdirSync(bundle, { recursive: true, mode: 0o700 });
    // Where a run's config went before it moved to /run: it may hold env-file values.
    rmSync(join(config.stateDir, "run", c.name), { recursive: true, force: true });
    const spec = parseSpec(readFileSync(join(built.bundle, "config.json"), "utf8"));
    spec.process.env = mergeStartEnv(
      spec.process.env,
      readEnvFiles(c, config.file),
      Object.keys(c.environment),
    );
    // A rootless runtime may only write cgroups delegated to it, and a login shell's are not:
    // the limits hold under the user manager's unit (railyard --user switch) instead.
    const wanted = limitsFor(c);
    const limits = config.rootless ? {} : wanted;
    if (config.rootless && Object.keys(wanted).length > 0)
      ctx.info(
        `note: ${c.name}'s resource limits apply under railyard --user switch, not in a rootless run`,
      );
    const patched = specForRun(spec, {
      terminal: ctx.args.flags["tty"] === true,
      extraArgs: ctx.args.rest ?? [],
      rootPath: built.overlay ? built.overlay.target : join(built.bundle, "rootfs"),
      limits,
    });
    writeFileSync(join(bundle, "config.json"), serializeSpec(patched), {
      mode: 0o600,
    });
    const networkScript = await runNetwork(config, c, bundle, alloc);
    const { loopback6Ports } = await import("../model/network.js");
    // [::1] is served by systemd's socket units, which only a switch installs.
    const proxied = loopback6Ports(c, config).map((p) => `[::1]:${p.hostPort ?? p.containerPort}`);
    if (proxied.length > 0)
      ctx.info(
        `${proxied.join(", ")}: not published by railyard run (a switch's units serve [::1])`,
      );

    return runForeground({
      runtime,
      name: c.name,
      id: containerId(c.name, config),
      bundle,
      stopSignal: built.stopSignal,
      stopTimeout: c.stopTimeout,
      log: ctx.debug,
      ...(networkScript ? { networkScript } : {}),
      ...(built.overlay ? { overlay: built.overlay } : {}),
      terminal: ctx.args.flags["tty"] === true,
      explain: (tail, status, ms) => {
        ctx.info(`${c.name} exited with status ${status} after ${(ms / 1000).toFixed(1)} s`);
        for (const h of diagnose(tail, c, effectiveCapabilities(c))) ctx.info(`hint: ${h}`);
      },
      ...(config.rootless ? { rootless: config.rootless } : {}),
      signals: process,
    });
  },
};
