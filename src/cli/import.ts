import { yamlProblem } from "../util/parse-error.js";
import { readRegularFile, UnreadableFileError } from "../util/read-file.js";
import { dirname, join, resolve } from "node:path";
import { ConfigError, UsageError } from "../errors.js";
import type { Command } from "./context.js";

const FORMATS = ["ts", "json", "yaml"] as const;
/** The largest compose file (or .env) import reads: the largest real ones are about 10 KB. */
const COMPOSE_FILE_MAX = 1 << 20;

export const importCommand: Command = {
  name: "import",
  summary: "turn a compose.yaml into a railyard config, naming what does not carry over",
  usage: "railyard import compose FILE [--format ts|json|yaml] [--volumes-dir DIR]",
  help: `Reads a compose file and prints the railyard config that runs the same containers, e.g.

  railyard import compose compose.yaml > railyard.config.ts

Variables are interpolated as compose does, from the environment and the project's .env. Every
key or value that is left out or changed is printed on stderr, and written as a comment on top of
a TypeScript config. The config is checked before it is printed; nothing on the host changes.

Read: image, build (context, dockerfile, args, target), command, entrypoint, environment, env_file, volumes (bind, named and tmpfs), tmpfs,
ports, user, restart, depends_on, read_only, cap_add/cap_drop, mem_limit, cpus, pids_limit,
deploy.resources.limits, GPU reservations and gpus (as CDI devices), healthcheck, hostname,
working_dir, labels, devices, stop_signal,
stop_grace_period, network_mode (host or none), networks, pull_policy, security_opt no-new-privileges,
sysctls, init.

What carries over as compose means it: docker's default capabilities (written as the difference
from railyard's image default, podman's set), a writable root unless read_only, sysctls and init.
What changes: ports without an address stay on every address (0.0.0.0) as compose publishes them,
and the warning says so; networks become railyard's own bridges. Named volumes become
directories under --volumes-dir (default /var/lib/railyard/volumes).

  --format FORMAT     ts (default), json or yaml
  --volumes-dir DIR   where named and anonymous volumes become host directories

With --json, prints { "config": {...}, "warnings": [...] } instead.`,
  flags: { long: { format: true, "volumes-dir": true } },
  async run(ctx) {
    const [kind, file, ...extra] = ctx.args.positionals;
    if (kind !== "compose" || file === undefined || extra.length > 0)
      throw new UsageError(`usage: ${this.usage}`);
    const format = (ctx.args.flags["format"] as string | undefined) ?? "ts";
    if (!FORMATS.includes(format as (typeof FORMATS)[number]))
      throw new UsageError(`--format ${JSON.stringify(format)}: expected ts, json or yaml`);
    const path = resolve(ctx.cwd, file);
    const dir = dirname(path);
    const [{ parse }, { fromCompose }, { parseDotEnv }, { resolveConfig }, { hostResolveContext }] =
      await Promise.all([
        import("yaml"),
        import("../import/compose/index.js"),
        import("../import/interpolate.js"),
        import("../config/resolve/index.js"),
        import("../config/load.js"),
      ]);
    // A compose file, or its .env, is a few KB; one of megabytes is no compose file, and the
    // YAML parser's time grows faster than the input's size.
    const read = (f: string) => {
      try {
        return readRegularFile(f, COMPOSE_FILE_MAX).toString("utf8");
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === "ENOENT") return undefined;
        if (e instanceof UnreadableFileError)
          throw new ConfigError(f, [
            { path: "", message: `${e.why}: expected a compose file, which is a few KB` },
          ]);
        throw new ConfigError(f, [{ path: "", message: `cannot read: ${err.message}` }]);
      }
    };
    const text = read(path);
    if (text === undefined) throw new ConfigError(path, [{ path: "", message: "no such file" }]);
    let doc: unknown;
    try {
      doc = parse(text);
    } catch (e) {
      throw new ConfigError(path, [
        { path: "", message: `not valid YAML at ${yamlProblem(e as Error)}` },
      ]);
    }
    const dotEnvFile = join(dir, ".env");
    const dotEnvText = read(dotEnvFile);
    const dotEnv = dotEnvText === undefined ? { vars: {} } : parseDotEnv(dotEnvText);
    if ("badLine" in dotEnv)
      throw new ConfigError(`${dotEnvFile}:${dotEnv.badLine}`, [
        { path: "", message: "expected KEY=value" },
      ]);
    const volumesDir =
      (ctx.args.flags["volumes-dir"] as string | undefined) ?? "/var/lib/railyard/volumes";
    const { config, warnings } = fromCompose(doc, {
      file: path,
      dir,
      env: { ...dotEnv.vars, ...ctx.env },
      volumesDir: resolve(ctx.cwd, volumesDir),
    });
    // The config must be one railyard accepts; its problems point at railyard's keys.
    resolveConfig(config, hostResolveContext(`${path} (imported)`));

    if (ctx.args.globals.json) {
      ctx.out(JSON.stringify({ config, warnings }, null, 2));
      return 0;
    }
    for (const w of warnings) ctx.info(`warning: ${w}`);
    if (format === "json") ctx.out(JSON.stringify(config, null, 2));
    else if (format === "yaml") {
      const { stringify } = await import("yaml");
      const comments = warnings.map((w) => `# ${w}`).join("\n");
      ctx.out(
        `${comments ? `# Not carried over, or changed:\n${comments}\n` : ""}${stringify(config, { lineWidth: 0 }).trimEnd()}`,
      );
    } else {
      const { renderConfigTs } = await import("../import/typescript.js");
      ctx.out(
        renderConfigTs(
          config,
          `Imported from ${file} by railyard import compose.`,
          warnings,
        ).trimEnd(),
      );
    }
    return 0;
  },
};
