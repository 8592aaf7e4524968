/**
 * Shell completion: `railyard completion bash|zsh` prints a script that the shell sources; on
 * TAB it completes command names itself (no process), and asks `railyard __complete WORDS...`
 * for the rest: a command's flags, and the container names and generation numbers of the
 * current config, read from the config and the state dir, never built.
 */
import { listGenerations } from "../generations/store.js";
import { UsageError } from "../errors.js";
import { GLOBAL_BOOL, GLOBAL_LIST, GLOBAL_SHORT, GLOBAL_VALUED } from "./args.js";
import { loadFor, type Command, type CommandContext } from "./context.js";

/** What completion may offer of the current config. */
export interface CompletionFacts {
  readonly names: () => readonly string[];
  readonly generations: () => readonly string[];
}

/** The answer that tells the shell to complete file names itself. */
export const FILES = "__files__";

const GLOBAL_FLAGS = [
  ...Object.keys(GLOBAL_VALUED),
  ...Object.keys(GLOBAL_LIST),
  ...Object.keys(GLOBAL_BOOL),
].map((f) => `--${f}`);
/** The global flags that take a value, as typed: `--config`, `-c`, `--state-dir`. */
const VALUED_AS_TYPED = new Set([
  ...[...Object.keys(GLOBAL_VALUED), ...Object.keys(GLOBAL_LIST)].map((f) => `--${f}`),
  ...Object.entries(GLOBAL_SHORT)
    .filter(([, long]) => long in GLOBAL_VALUED)
    .map(([short]) => `-${short}`),
]);

/** Commands whose positionals are container names. */
const TAKES_NAMES = new Set([
  "build", "start", "stop", "restart", "exec", "inspect", "logs", "status", "top", "stats",
  "run", "pull", "lock",
]); // prettier-ignore

/**
 * The candidates for the last of `words` (the words after `railyard`, the last one being
 * completed, possibly empty), unfiltered: the shell keeps those that start with it. Pure.
 */
export function completeWords(
  words: readonly string[],
  commands: readonly Command[],
  facts: CompletionFacts,
  aliases: Readonly<Record<string, string>> = {},
): string[] {
  const before = words.slice(0, -1);
  const cur = words[words.length - 1] ?? "";
  const prev = before[before.length - 1];
  let cmd: Command | undefined;
  const positionals: string[] = [];
  for (let i = 0; i < before.length; i++) {
    const w = before[i] as string;
    if (w === "--") return [];
    if (w.startsWith("-")) {
      const valued =
        VALUED_AS_TYPED.has(w) || (cmd?.flags.long[w.replace(/^--/, "")] ?? false) === true;
      if (valued && !w.includes("=")) i++;
      continue;
    }
    if (!cmd) {
      cmd = commands.find((c) => c.name === (aliases[w] ?? w));
      if (!cmd) return [];
    } else positionals.push(w);
  }
  if (prev !== undefined && VALUED_AS_TYPED.has(prev)) return [FILES];
  if (prev === "--to" && cmd?.name === "rollback") return [...facts.generations()];
  if (prev && prev.startsWith("-") && cmd?.flags.long[prev.replace(/^--/, "")] === true) return [];
  if (cur.startsWith("-"))
    return [...GLOBAL_FLAGS, ...Object.keys(cmd?.flags.long ?? {}).map((f) => `--${f}`)];
  if (!cmd) return [...commands.map((c) => c.name), "help"];
  switch (cmd.name) {
    case "diff":
      return positionals.length < 2 ? [...facts.generations()] : [];
    case "export":
      return positionals.length === 0 ? ["kubernetes", "quadlet", "compose"] : [];
    case "import":
      return positionals.length === 0 ? ["compose"] : positionals.length === 1 ? [FILES] : [];
    case "images":
      return positionals.length === 0 ? ["rm"] : [];
    case "completion":
      return positionals.length === 0 ? ["bash", "zsh"] : [];
    default:
      if (!TAKES_NAMES.has(cmd.name)) return [];
      // Single-NAME commands take one; the rest take several, each once.
      if (/ NAME( |$)/.test(cmd.usage) && !/NAME\.\.\./.test(cmd.usage) && positionals.length > 0)
        return [];
      return facts.names().filter((n) => !positionals.includes(n));
  }
}

/** The script that `railyard completion SHELL` prints. */
export function completionScript(shell: "bash" | "zsh", commands: readonly Command[]): string {
  const names = [...commands.map((c) => c.name), "help"].join(" ");
  if (shell === "bash")
    return `# bash completion for railyard: eval "$(railyard completion bash)", or save it as
# /usr/share/bash-completion/completions/railyard
_railyard() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" IFS=$'\\n'
  if [ "$COMP_CWORD" -eq 1 ] && [[ "$cur" != -* ]]; then
    COMPREPLY=($(compgen -W "${names.replace(/ /g, "\n")}" -- "$cur"))
    return
  fi
  local -a c
  c=($(railyard __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
  if [ "\${c[0]}" = ${FILES} ]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  else
    COMPREPLY=($(compgen -W "\${c[*]}" -- "$cur"))
  fi
}
complete -F _railyard railyard
`;
  return `#compdef railyard
# zsh completion for railyard: eval "$(railyard completion zsh)" after compinit, or save it as
# _railyard in a directory of $fpath
_railyard() {
  if (( CURRENT == 2 )) && [[ "\${words[2]}" != -* ]]; then
    compadd -- ${names}
    return
  fi
  local -a c
  c=("\${(@f)$(railyard __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  if [[ "\${c[1]}" == ${FILES} ]]; then
    _files
  else
    compadd -- "\${c[@]}"
  fi
}
compdef _railyard railyard
`;
}

/** `railyard completion bash|zsh`. */
export function completionCommand(all: () => readonly Command[]): Command {
  return {
    name: "completion",
    summary: "print the shell completion script for bash or zsh",
    usage: "railyard completion bash|zsh",
    help: `Prints a script that completes railyard's commands and flags, and the container names and
generation numbers of the current config (read from the config and the state dir: nothing is
built). Load it in the shell's startup file:

  bash:  eval "$(railyard completion bash)"
  zsh:   eval "$(railyard completion zsh)"   (after compinit)

or save it where the shell looks for completions (/usr/share/bash-completion/completions/railyard,
a directory of zsh's $fpath as _railyard).`,
    flags: { long: {} },
    run(ctx) {
      const shell = ctx.args.positionals[0];
      if ((shell !== "bash" && shell !== "zsh") || ctx.args.positionals.length > 1)
        return Promise.reject(
          new UsageError(`usage: ${this.usage} (got ${JSON.stringify(shell ?? "")})`),
        );
      ctx.out(completionScript(shell, all()).trimEnd());
      return Promise.resolve(0);
    },
  };
}

/**
 * `railyard __complete WORDS...`, which the scripts run: the candidates, one per line. Quiet on
 * every error (a config that does not load offers no names), as a TAB must never print one.
 */
export async function completeCli(
  words: readonly string[],
  commands: readonly Command[],
  aliases: Readonly<Record<string, string>>,
  io: { stdout: (s: string) => void; env: NodeJS.ProcessEnv; cwd: string },
): Promise<number> {
  const value = (...flags: string[]) => {
    const i = words.findIndex((w, j) => flags.includes(w) && j < words.length - 1);
    return i >= 0 ? words[i + 1] : undefined;
  };
  const configFlag = value("--config", "-c");
  const stateDirFlag = value("--state-dir");
  let config: Awaited<ReturnType<typeof loadFor>> | undefined;
  const load = async () => {
    if (config) return config;
    const ctx: CommandContext = {
      args: {
        command: "__complete",
        globals: {
          ...(configFlag !== undefined ? { config: configFlag } : {}),
          ...(stateDirFlag !== undefined ? { stateDir: stateDirFlag } : {}),
          json: false,
          user: words.includes("--user"),
          verbose: false,
          help: false,
          version: false,
          profiles: [],
        },
        flags: {},
        lists: {},
        positionals: [],
        rest: undefined,
      },
      env: io.env,
      cwd: io.cwd,
      out: () => {},
      debug: () => {},
      info: () => {},
    };
    // TAB in a cloned repository must not run its config: only JSON, YAML, or a script config
    // an explicit command has already compiled and loaded.
    config = await loadFor(ctx, "__complete", { compiledOnly: true });
    return config;
  };
  // Which facts the answer needs, then the answer with them: only those are read.
  const asks = completeWords(
    words,
    commands,
    { names: () => ["\0n"], generations: () => ["\0g"] },
    aliases,
  );
  let names: readonly string[] = [];
  let generations: readonly string[] = [];
  try {
    if (asks.includes("\0n")) names = Object.keys((await load()).containers).sort();
    if (asks.includes("\0g")) generations = listGenerations((await load()).stateDir).map(String);
  } catch {
    // no config, or nothing built: nothing to offer
  }
  const out = completeWords(
    words,
    commands,
    { names: () => names, generations: () => generations },
    aliases,
  );
  if (out.length > 0) io.stdout(`${out.join("\n")}\n`);
  return 0;
}
