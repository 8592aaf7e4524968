/**
 * Compose's variable interpolation and its word splitting of string commands (pure).
 */

export type Env = Readonly<Record<string, string | undefined>>;

export interface Interpolated {
  readonly value: string;
  /** Variables that were used but not set (compose substitutes "" and warns). */
  readonly unset: readonly string[];
  /** A `${VAR:?message}` whose variable was missing, or a malformed `${`. */
  readonly error?: string;
}

const NAME = "[A-Za-z_][A-Za-z0-9_]*";
const PATTERN = new RegExp(
  `\\$(?:(\\$)|\\{(${NAME})(?:(:?[-?+])([^}]*))?\\}|(${NAME})|(\\{))`,
  "g",
);

/**
 * `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
 * `${VAR:+alt}`, `${VAR+alt}`, and `$$` for a literal `$`, as the compose specification says.
 * Nested expressions in defaults are not expanded.
 */
export function interpolate(s: string, env: Env): Interpolated {
  const unset: string[] = [];
  let error: string | undefined;
  const value = s.replace(
    PATTERN,
    (
      _m,
      dollar?: string,
      braced?: string,
      op?: string,
      arg?: string,
      bare?: string,
      bad?: string,
    ) => {
      if (dollar) return "$";
      if (bad) {
        error ??= `${JSON.stringify(s)}: "\${" without a variable name and "}"; write "$$" for a literal "$"`;
        return "";
      }
      const name = (braced ?? bare) as string;
      const v = env[name];
      const empty = v === undefined || v === "";
      switch (op) {
        case ":-":
          return empty ? (arg ?? "") : v;
        case "-":
          return v === undefined ? (arg ?? "") : v;
        case ":?":
        case "?":
          if (op === ":?" ? empty : v === undefined)
            error ??= `${name} is required: ${arg || `set ${name} in the environment or .env`}`;
          return v ?? "";
        case ":+":
          return empty ? "" : (arg ?? "");
        case "+":
          return v === undefined ? "" : (arg ?? "");
        default:
          if (v === undefined) unset.push(name);
          return v ?? "";
      }
    },
  );
  return error === undefined ? { value, unset } : { value, unset, error };
}

/**
 * A command string split into words as compose does (go-shellwords): blanks separate words,
 * single quotes keep everything, double quotes keep all but `\"` and `\\`, a backslash outside
 * quotes escapes the next character. No expansion. Undefined when a quote is not closed.
 */
export function shellSplit(s: string): string[] | undefined {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else word += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === "\\" && (s[i + 1] === '"' || s[i + 1] === "\\")) word += s[++i];
      else word += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === "\\" && i + 1 < s.length) {
      word += s[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) return undefined;
  if (inWord) words.push(word);
  return words;
}

/**
 * A project's `.env`: `KEY=value` lines, `#` comments, an optional `export `, and values in
 * single quotes (kept as written) or double quotes (with `\n`, `\"` and `\\`). An unquoted or
 * double-quoted value is interpolated as compose does, from `env` (the environment) first, then
 * the lines above it (`DATA=$BASE/data`). Returns the variables, or the number of the first line
 * that is none of these.
 */
export function parseDotEnv(
  text: string,
  env: Env = {},
): { vars: Record<string, string> } | { badLine: number; why?: string } {
  const vars: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, "");
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) return { badLine: i + 1 };
    const raw = m[2] as string;
    if (/^'.*'$/.test(raw)) {
      vars[m[1] as string] = raw.slice(1, -1);
      continue;
    }
    const value = /^".*"$/.test(raw)
      ? raw.slice(1, -1).replace(/\\([n"\\])/g, (_, c: string) => (c === "n" ? "\n" : c))
      : raw.replace(/\s+#.*$/, "");
    const expanded = interpolate(value, { ...vars, ...env });
    if (expanded.error) return { badLine: i + 1, why: expanded.error };
    vars[m[1] as string] = expanded.value;
  }
  return { vars };
}
