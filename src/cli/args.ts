import { UsageError } from "../errors.js";

/** Flags every command accepts, in any position before `--`. */
export interface GlobalFlags {
  config?: string;
  stateDir?: string;
  json: boolean;
  /** Rootless: run as this user, under its systemd user manager. */
  user: boolean;
  verbose: boolean;
  help: boolean;
  version: boolean;
  /** `--profile NAME`, repeatable: compose profiles to run, for a compose file as the config. */
  profiles: string[];
}

export interface ParsedArgs {
  readonly command: string | undefined;
  readonly globals: GlobalFlags;
  /** Command flags by long name; booleans are true, valued flags hold their (last) value. */
  readonly flags: Record<string, string | true>;
  /** Every value of a flag the command lets repeat (FlagSpec.repeat), in order. */
  readonly lists: Record<string, string[]>;
  readonly positionals: string[];
  /** Everything after `--`. */
  readonly rest: string[] | undefined;
}

/** Per-command flags: long name -> does it take a value. Short aliases map to long names. */
export interface FlagSpec {
  readonly long: Record<string, boolean>;
  readonly short?: Record<string, string>;
  /** Valued flags that may be given more than once (`-e A=1 -e B=2`). */
  readonly repeat?: readonly string[];
}

export const GLOBAL_VALUED: Record<string, keyof GlobalFlags> = {
  config: "config",
  "state-dir": "stateDir",
};
/** Global flags that take a value and may be given more than once. */
export const GLOBAL_LIST: Record<string, "profiles"> = { profile: "profiles" };
export const GLOBAL_BOOL: Record<string, keyof GlobalFlags> = {
  json: "json",
  user: "user",
  verbose: "verbose",
  help: "help",
  version: "version",
};
export const GLOBAL_SHORT: Record<string, string> = { h: "help", v: "verbose", c: "config" };

/** A small, strict argv parser: unknown flags are usage errors, never ignored. Pure. */
export function parseArgs(
  argv: readonly string[],
  specFor: (command: string | undefined) => FlagSpec,
): ParsedArgs {
  const globals: GlobalFlags = {
    json: false,
    user: false,
    verbose: false,
    help: false,
    version: false,
    profiles: [],
  };
  const flags: Record<string, string | true> = {};
  const lists: Record<string, string[]> = {};
  const positionals: string[] = [];
  let command: string | undefined;
  let rest: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--") {
      rest = argv.slice(i + 1);
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      if (command === undefined) command = a;
      else positionals.push(a);
      continue;
    }
    const spec = specFor(command);
    let name: string;
    let inline: string | undefined;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      name = eq === -1 ? a.slice(2) : a.slice(2, eq);
      inline = eq === -1 ? undefined : a.slice(eq + 1);
    } else {
      if (a.length !== 2)
        throw new UsageError(`unknown flag ${a}. short flags cannot be combined; see --help`);
      const s = a.slice(1);
      const long = spec.short?.[s] ?? GLOBAL_SHORT[s];
      if (!long)
        throw new UsageError(
          `unknown flag ${a}${command ? ` for "${command}"` : ""}. see railyard ${command ?? ""} --help`.replace(
            "  ",
            " ",
          ),
        );
      name = long;
    }
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[i + 1];
      // "-" (stdout) and a negative number are values; the command checks their range.
      const isValue = v !== undefined && (!v.startsWith("-") || v === "-" || /^-\d+$/.test(v));
      if (!isValue) throw new UsageError(`--${name} needs a value`);
      i++;
      return v;
    };
    if (name in GLOBAL_VALUED) (globals[GLOBAL_VALUED[name] as "config"] as string) = takeValue();
    else if (name in GLOBAL_LIST) globals[GLOBAL_LIST[name] as "profiles"].push(takeValue());
    else if (name in GLOBAL_BOOL) {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      (globals[GLOBAL_BOOL[name] as "json"] as boolean) = true;
    } else if (name in spec.long) {
      if (spec.long[name]) {
        const v = takeValue();
        if (flags[name] !== undefined && !spec.repeat?.includes(name))
          throw new UsageError(`--${name} is given twice`);
        flags[name] = v;
        (lists[name] ??= []).push(v);
      } else {
        if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
        flags[name] = true;
      }
    } else
      throw new UsageError(
        `unknown flag --${name}${command ? ` for "${command}"` : ""}. see railyard ${command ? `${command} ` : ""}--help`,
      );
  }
  return { command, globals, flags, lists, positionals, rest };
}
