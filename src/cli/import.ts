import { relative, resolve } from "node:path";
import { UsageError } from "../errors.js";
import type { Command } from "./context.js";

const FORMATS = ["ts", "json", "yaml"] as const;

export const importCommand: Command = {
  name: "import",
  summary: "turn a compose project into a railyard config, naming what does not carry over",
  usage:
    "railyard import compose [DIR | FILE...] [-f FILE]... [--profile NAME]... [--format ts|json|yaml] [--volumes-dir DIR]",
  help: `Reads a compose project and prints the railyard config that runs the same containers, e.g.

  railyard import compose > railyard.config.ts
  railyard import compose -f compose.yaml -f compose.prod.yaml --profile backup

The project is read as docker compose reads it. With no file, the directory (DIR, else the
current one) gives the files: COMPOSE_FILE (from the environment or .env, split on
COMPOSE_PATH_SEPARATOR), else compose.yaml with compose.override.yaml beside it. Files given
(-f, or as arguments) are merged in order, their relative paths the first one's directory's;
include and extends are followed. Variables are interpolated from the environment and the
project's .env, whose own values may use the variables above them. A service in a profile is
imported only when the profile is active (--profile, else COMPOSE_PROFILES).

Every key or value that is left out or changed is printed on stderr, and written as a comment on
top of a TypeScript config. The config is checked before it is printed; nothing on the host
changes.

Read: image, build (context, dockerfile, args, target), command, entrypoint, environment, env_file, volumes (bind, named and tmpfs), tmpfs,
ports, user, restart, depends_on, read_only, cap_add/cap_drop, mem_limit, cpus, pids_limit, shm_size, ulimits,
dns, dns_search, dns_opt, pid (host),
deploy.resources.limits, GPU reservations and gpus (as CDI devices), healthcheck, hostname,
working_dir, labels, devices, stop_signal,
stop_grace_period, network_mode (host or none), networks, pull_policy, security_opt no-new-privileges,
sysctls, init, profiles.

What carries over as compose means it: docker's default capabilities (written as the difference
from railyard's image default, podman's set), a writable root unless read_only, sysctls and init.
What changes: ports without an address stay on every address (0.0.0.0) as compose publishes them,
and the warning says so; networks become railyard's own bridges. Named volumes become
directories under --volumes-dir (default /var/lib/railyard/volumes).

  -f, --file FILE     a compose file; repeat to merge several, in order
  --profile NAME      run the services of this profile too; repeat for more
  --format FORMAT     ts (default), json or yaml
  --volumes-dir DIR   where named and anonymous volumes become host directories

With --json, prints { "config": {...}, "warnings": [...], "files": [...] } instead.`,
  flags: {
    // --profile is a global flag: the same one a compose file given as the config takes.
    long: { format: true, "volumes-dir": true, file: true },
    short: { f: "file" },
    repeat: ["file"],
  },
  async run(ctx) {
    const [kind, ...given] = ctx.args.positionals;
    if (kind !== "compose") throw new UsageError(`usage: ${this.usage}`);
    const format = (ctx.args.flags["format"] as string | undefined) ?? "ts";
    if (!FORMATS.includes(format as (typeof FORMATS)[number]))
      throw new UsageError(`--format ${JSON.stringify(format)}: expected ts, json or yaml`);
    const [{ readComposeProject, projectPaths }, { resolveConfig }, { hostResolveContext }] =
      await Promise.all([
        import("../import/read-project.js"),
        import("../config/resolve/index.js"),
        import("../config/load.js"),
      ]);
    const volumesDir =
      (ctx.args.flags["volumes-dir"] as string | undefined) ?? "/var/lib/railyard/volumes";
    const project = readComposeProject({
      ...projectPaths(ctx.cwd, [...given, ...(ctx.args.lists["file"] ?? [])]),
      env: ctx.env,
      profiles: ctx.args.globals.profiles,
      volumesDir: resolve(ctx.cwd, volumesDir),
    });
    const { config, warnings } = project;
    const path = project.files[0] as string;
    // The config must be one railyard accepts; its problems point at railyard's keys.
    resolveConfig(config, hostResolveContext(`${path} (imported)`));

    if (ctx.args.globals.json) {
      ctx.out(JSON.stringify({ config, warnings, files: project.files }, null, 2));
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
          `Imported from ${project.files.map((f) => relative(ctx.cwd, f) || f).join(", ")} by railyard import compose.`,
          warnings,
        ).trimEnd(),
      );
    }
    return 0;
  },
};
