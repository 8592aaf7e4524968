import { loadConfig } from "../config/load.js";
import type { ResolvedConfig } from "../config/types.js";
import type { ParsedArgs } from "./args.js";

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
}

export function loadFor(ctx: CommandContext, command: string): Promise<Readonly<ResolvedConfig>> {
  return loadConfig({
    flag: ctx.args.globals.config,
    env: ctx.env,
    cwd: ctx.cwd,
    command,
    stateDir: ctx.args.globals.stateDir,
  });
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
