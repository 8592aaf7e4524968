import { stateWriteProblem } from "../util/mounts.js";
import { RailyardError, UsageError } from "../errors.js";
import { buildCommit, packageVersion } from "../util/package.js";
import { parseArgs, type FlagSpec } from "./args.js";
import { buildCommand } from "./build.js";
import { checkCommand } from "./check.js";
import { doctorCommand } from "./doctor.js";
import { exportCommand } from "./export.js";
import type { Command, CommandContext } from "./context.js";
import { gcCommand } from "./gc.js";
import { imagesCommand } from "./images.js";
import { importCommand } from "./import.js";
import { lockCommand } from "./lock.js";
import { pullCommand } from "./pull.js";
import { runCommand } from "./run.js";
import { generationsCommand } from "./generations.js";
import { logsCommand, statusCommand } from "./status.js";
import { downCommand, rollbackCommand, switchCommand } from "./switch.js";
import { diffCommand } from "./diff.js";
import { updateCommand } from "./update.js";
import { restartCommand, startCommand, stopCommand } from "./control.js";
import { execCommand } from "./exec.js";
import { inspectCommand } from "./inspect.js";
import { topCommand } from "./top.js";
import { statsCommand } from "./stats.js";
import { eventsCommand } from "./events.js";
import { completeCli, completionCommand } from "./completion.js";

const COMMANDS: readonly Command[] = [
  checkCommand,
  buildCommand,
  switchCommand,
  rollbackCommand,
  downCommand,
  updateCommand,
  diffCommand,
  generationsCommand,
  statusCommand,
  logsCommand,
  startCommand,
  stopCommand,
  restartCommand,
  execCommand,
  inspectCommand,
  topCommand,
  statsCommand,
  eventsCommand,
  runCommand,
  pullCommand,
  lockCommand,
  imagesCommand,
  gcCommand,
  exportCommand,
  importCommand,
  doctorCommand,
  completionCommand(() => COMMANDS),
];

/** Every command, in the order the help lists them (man pages are made from the same list). */
export const commands = (): readonly Command[] => COMMANDS;

/** Other names a docker or podman user types for a command that exists. */
const ALIASES: Readonly<Record<string, string>> = { ps: "status" };

/**
 * docker, podman and compose verbs with no railyard command of that name: which command does
 * that job here. Said instead of a bare "unknown command".
 */
export const DOCKER_VERBS: Readonly<Record<string, string>> = {
  up: "railyard switch builds the config and starts what changed (there is no -d: services run under systemd)",
  rm: "remove the container from the config, then railyard switch (its service stops and its unit goes)",
  rmi: "railyard gc removes images no generation uses",
  create: "railyard build makes the bundles and units without starting anything",
  kill: "railyard stop NAME sends the container's stopSignal, then SIGKILL after its stopTimeout",
  compose: "railyard import compose FILE turns a compose file into a railyard config",
  config: "railyard check --json prints the resolved config",
  version: "railyard --version",
  login: "give registry credentials with a container's login, or in ~/.docker/config.json",
  push: "railyard runs images and does not publish them: push with skopeo, podman or docker",
  tag: "railyard names images in the config: change image and switch",
};

const GLOBAL_HELP = `Global flags (every command):
  -c, --config FILE     config file (default: $RAILYARD_CONFIG, ./railyard.config.{ts,mjs,js,json,yaml},
                        then /etc/railyard/)
      --state-dir DIR   where bundles and state live (overrides stateDir; default /var/lib/railyard)
      --profile NAME    with a compose file as the config: run this profile's services too
                        (repeat for more; default $COMPOSE_PROFILES)
      --user            rootless: run as this (non-root) user, under its systemd user manager, with
                        state in $XDG_STATE_HOME/railyard (see railyard doctor --user)
      --json            machine-readable output on stdout
  -v, --verbose         explain what is happening on stderr
  -h, --help            show help
      --version         show the version`;

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `railyard: containers on one Linux host as supervised services, with no container daemon

Usage: railyard <command> [flags]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

${GLOBAL_HELP}

Run "railyard <command> --help" for a command's own flags.`;
}

export interface Io {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** The whole CLI as a function: argv in, exit code out. The only place errors become exit codes. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  let verbose = argv.includes("--verbose") || argv.includes("-v");
  // What the completion scripts run at TAB: not a command of the help, and never an error.
  if (argv[0] === "__complete") return completeCli(argv.slice(1), COMMANDS, ALIASES, io);
  const loaded: { stateDir?: string } = {};
  try {
    const specFor = (cmd: string | undefined): FlagSpec =>
      COMMANDS.find((c) => c.name === (cmd !== undefined ? (ALIASES[cmd] ?? cmd) : cmd))?.flags ?? {
        long: {},
      };
    const args = parseArgs(argv, specFor);
    verbose = args.globals.verbose;
    if (args.globals.version) {
      io.stdout(`railyard ${packageVersion()} (commit ${buildCommit()})\n`);
      return 0;
    }
    const name = args.command !== undefined ? (ALIASES[args.command] ?? args.command) : undefined;
    const cmd = COMMANDS.find((c) => c.name === name);
    if (args.command === undefined || args.command === "help") {
      const t = args.positionals[0];
      const topic = COMMANDS.find((c) => c.name === (t !== undefined ? (ALIASES[t] ?? t) : t));
      io.stdout(`${topic ? commandHelp(topic) : mainHelp()}\n`);
      return args.command === undefined && !args.globals.help ? 2 : 0;
    }
    if (!cmd) {
      const hint = DOCKER_VERBS[args.command];
      io.stderr(
        hint
          ? `railyard: there is no ${JSON.stringify(args.command)} command: ${hint}\n`
          : `railyard: unknown command ${JSON.stringify(args.command)}\n\n${mainHelp()}\n`,
      );
      return 2;
    }
    if (args.globals.help) {
      io.stdout(`${commandHelp(cmd)}\n`);
      return 0;
    }
    if (!takesArguments(cmd.usage) && args.positionals.length > 0)
      throw new UsageError(
        `railyard ${cmd.name} takes no arguments, got ${args.positionals.map((p) => JSON.stringify(p)).join(" ")}. usage: ${cmd.usage}`,
      );
    const ctx: CommandContext = {
      loaded,
      args,
      env: io.env,
      cwd: io.cwd,
      out: (l) => io.stdout(`${l}\n`),
      debug: (l) => {
        if (verbose) io.stderr(`railyard: ${l}\n`);
      },
      info: (l) => io.stderr(`railyard: ${l}\n`),
    };
    return await cmd.run(ctx);
  } catch (e) {
    if (e instanceof RailyardError) {
      io.stderr(`railyard: ${e.message}\n`);
      if (verbose && e.stack) io.stderr(`${e.stack}\n`);
      return e.exitCode;
    }
    const full = diskFull(e, loaded.stateDir);
    if (full) {
      io.stderr(`railyard: ${full}\n`);
      return 1;
    }
    io.stderr(
      `railyard: internal error: ${e instanceof Error ? (verbose ? e.stack : e.message) : String(e)}\n`,
    );
    return 1;
  }
}

/**
 * A full or read-only filesystem, said in one line with the path, the filesystem and what is
 * left there (a failure, exit 1: the command was right, the host could not take it). A write
 * with no path (a stream's) is said to be on the state dir the command used, not on /.
 */
function diskFull(e: unknown, stateDir: string | undefined): string | undefined {
  const err = e as NodeJS.ErrnoException;
  if (err?.code !== "ENOSPC" && err?.code !== "EDQUOT" && err?.code !== "EROFS") return undefined;
  // A copy's error names its source as `path` and the file it could not write as `dest`.
  const path = (err as { dest?: string }).dest ?? err.path ?? stateDir;
  return path === undefined
    ? `no space left on the device of a file railyard was writing. free some space and run the command again`
    : stateWriteProblem(path, err.code);
}

/**
 * Whether a command's usage line names any argument besides flags and their values (so the usage
 * that --help prints is also what is enforced): "railyard gc [--keep N] [--dry-run]" takes none.
 */
export function takesArguments(usage: string): boolean {
  const line = usage.split("\n")[0] ?? "";
  const rest = line
    .replace(/^railyard \S+/, "")
    .replace(/\[-[^\]]*\]/g, "")
    .trim();
  return rest !== "";
}

export function commandHelp(c: Command): string {
  return `Usage: ${c.usage}\n\n${c.help}\n\n${GLOBAL_HELP}`;
}
