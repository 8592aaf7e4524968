import { basename, dirname, join, resolve } from "node:path";
import { loadConfig } from "../config/load.js";
import type { ResolvedConfig } from "../model/types.js";
import { UsageError } from "../errors.js";
import { userScope } from "../rootless/host.js";
import type { ParsedArgs } from "./args.js";

/** Commands that build or run containers: as a non-root user, only rootless (--user) can. */
const NEEDS_ROOT_OR_USER = new Set(["build", "switch", "rollback", "update", "run"]);

/** What every command receives: parsed args, output channels and the environment. */
export interface CommandContext {
  readonly args: ParsedArgs;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly out: (line: string) => void;
  /** Diagnostics, shown only under --verbose. */
  readonly debug: (line: string) => void;
  /** Notices the user should always see (stderr). */
  readonly info: (line: string) => void;
  /** Filled by loadFor: the state dir in use, which a failed write with no path is said to be on. */
  readonly loaded?: { stateDir?: string };
}

/**
 * The config, loaded for `command`. `compiledOnly`: a TypeScript/JavaScript config runs only if
 * an explicit command has compiled and loaded it before (tab completion runs nobody's new code).
 */
export async function loadFor(
  ctx: CommandContext,
  command: string,
  o: { compiledOnly?: boolean } = {},
): Promise<Readonly<ResolvedConfig>> {
  const user = ctx.args.globals.user ? userScope(ctx.env) : undefined;
  if (!user && process.getuid?.() !== 0 && NEEDS_ROOT_OR_USER.has(command))
    throw new UsageError(
      `railyard ${command} runs system services as root. as a non-root user, run it rootless: ` +
        `railyard --user ${command} (railyard doctor --user checks what that needs)`,
    );
  let composed = false;
  const [{ hostServiceReader }, { hostFs }, { dpkgArch }, { normaliseArch }] = await Promise.all([
    import("../closure/service.js"),
    import("../closure/fs.js"),
    import("../closure/dpkg.js"),
    import("../model/parse.js"),
  ]);
  const loading = loadConfig({
    flag: ctx.args.globals.config,
    env: ctx.env,
    cwd: ctx.cwd,
    command,
    // A path argument is relative to where the command runs, as for --config.
    stateDir:
      ctx.args.globals.stateDir !== undefined
        ? resolve(ctx.cwd, ctx.args.globals.stateDir)
        : undefined,
    ...(user ? { defaultStateDir: user.stateDir } : {}),
    ...(user ? { rootless: user.scope } : {}),
    ...(o.compiledOnly ? { compiledOnly: true } : {}),
    hostService: hostServiceReader(hostFs(), dpkgArch(normaliseArch(process.arch))),
    compose: (file) => {
      composed = true;
      return composeAsConfig(ctx, file, user?.stateDir);
    },
  });
  return loading.then((config) => {
    if (!composed && ctx.args.globals.profiles.length > 0)
      throw new UsageError(
        `--profile is for a compose file given as the config (railyard -c compose.yaml --profile NAME ${command}); ${config.file} is a railyard config`,
      );
    if (ctx.loaded) ctx.loaded.stateDir = config.stateDir;
    return config;
  });
}

/**
 * A compose file given as the config (`railyard -c compose.yaml switch`): read through the
 * importer, as `railyard import compose` reads it, its notes said once on stderr. A file named
 * as compose names its default (compose.yaml) is read with its directory's COMPOSE_FILE, .env
 * and override file, as `docker compose up` there reads it; another name is that file alone.
 */
async function composeAsConfig(
  ctx: CommandContext,
  file: string,
  userStateDir: string | undefined,
): Promise<unknown> {
  const [{ readComposeProject }, { DEFAULT_FILES }, { DEFAULT_STATE_DIR }] = await Promise.all([
    import("../import/read-project.js"),
    import("../import/compose/project.js"),
    import("../config/resolve/index.js"),
  ]);
  const stateDir =
    ctx.args.globals.stateDir !== undefined
      ? resolve(ctx.cwd, ctx.args.globals.stateDir)
      : (userStateDir ?? DEFAULT_STATE_DIR);
  const byDir = DEFAULT_FILES.includes(basename(file));
  const project = readComposeProject({
    files: byDir ? [] : [file],
    dir: dirname(file),
    env: ctx.env,
    profiles: ctx.args.globals.profiles,
    volumesDir: join(stateDir, "volumes"),
  });
  for (const w of project.warnings) ctx.info(`${file}: note: ${w}`);
  return project.config;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly help: string;
  readonly flags: import("./args.js").FlagSpec;
  /** Returns the process exit code. */
  run(ctx: CommandContext): Promise<number>;
}
