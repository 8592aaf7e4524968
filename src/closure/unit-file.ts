/**
 * systemd unit files as systemd reads them, for what a package's own unit says about running its
 * program: sections of `Key=Value` lines, `#`/`;` comments, a trailing `\` continuing a line,
 * a key given again adding to it (an empty value resetting it), drop-ins applied in order, and
 * command lines split as systemd.service(5) splits them. Pure.
 */

/** A unit's settings: section -> key -> each assignment in order (after resets). */
export type UnitFile = ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;

/** Parse one or more texts (the unit, then its drop-ins in order) into one unit. */
export function parseUnitFile(...texts: readonly string[]): UnitFile {
  const out = new Map<string, Map<string, string[]>>();
  for (const text of texts) {
    let section = "";
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      let line = (lines[i] as string).trim();
      while (line.endsWith("\\") && i + 1 < lines.length) {
        const next = (lines[++i] as string).trim();
        // A comment line inside a continuation is skipped, as systemd skips it.
        if (next.startsWith("#") || next.startsWith(";")) continue;
        line = `${line.slice(0, -1)} ${next}`;
      }
      if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
      const s = /^\[([^\]]+)\]$/.exec(line);
      if (s) {
        section = s[1] as string;
        continue;
      }
      const eq = line.indexOf("=");
      if (eq <= 0 || section === "") continue;
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      const keys = out.get(section) ?? new Map<string, string[]>();
      out.set(section, keys);
      // An empty assignment resets what came before (ExecStart=, Environment=, ...).
      keys.set(key, value === "" ? [] : [...(keys.get(key) ?? []), value]);
    }
  }
  return out;
}

/** The assignments of a key, in order; [] when it is absent or was reset. */
export const unitValues = (u: UnitFile, section: string, key: string): readonly string[] =>
  u.get(section)?.get(key) ?? [];

/** Whether a key was assigned at all, even to nothing (`CapabilityBoundingSet=`). */
export const unitHas = (u: UnitFile, section: string, key: string): boolean =>
  u.get(section)?.has(key) === true;

/** The last assignment of a key, as systemd takes a single-valued setting. */
export const unitValue = (u: UnitFile, section: string, key: string): string | undefined =>
  unitValues(u, section, key).at(-1);

/**
 * Split a value into words as systemd does: whitespace separates, "double" and 'single' quotes
 * group, and C-style backslash escapes apply. Undefined for an unclosed quote.
 */
export function splitUnitWords(value: string): string[] | undefined {
  const words: string[] = [];
  let cur: string | undefined;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    if (/\s/.test(ch)) {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else if (ch === '"' || ch === "'") {
      const end = findClosing(value, i + 1, ch);
      if (end === -1) return undefined;
      cur = (cur ?? "") + unescape(value.slice(i + 1, end));
      i = end;
    } else if (ch === "\\" && i + 1 < value.length) {
      cur = (cur ?? "") + unescape(value.slice(i, i + 2));
      i++;
    } else cur = (cur ?? "") + ch;
  }
  if (cur !== undefined) words.push(cur);
  return words;
}

function findClosing(s: string, from: number, quote: string): number {
  for (let i = from; i < s.length; i++) {
    if (s[i] === "\\") i++;
    else if (s[i] === quote) return i;
  }
  return -1;
}

const ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  "\\": "\\",
  '"': '"',
  "'": "'",
  s: " ",
};
const unescape = (s: string) => s.replace(/\\(.)/g, (_m, c: string) => ESCAPES[c] ?? c);

/**
 * An Exec*= line as the program and its arguments: the prefixes (`-`, `@`, `:`, `+`, `!`) off,
 * `@` making the second word argv[0] (dropped here: a container's argv[0] is the program), and
 * `$VAR`/`${VAR}` taken from `env` (`${VAR}` one word, `$VAR` split on whitespace). A variable
 * `env` lacks is returned in `missing`, its word left out.
 */
export function execArgv(
  line: string,
  env: Readonly<Record<string, string>>,
): { argv: string[]; missing: string[] } | undefined {
  const m = /^([-@:+!]*)(.*)$/s.exec(line.trim());
  const prefixes = m?.[1] ?? "";
  const words = splitUnitWords(m?.[2] ?? "");
  if (!words || words.length === 0) return undefined;
  const missing: string[] = [];
  const argv: string[] = [];
  const list = prefixes.includes("@") ? [words[0] as string, ...words.slice(2)] : words;
  for (const w of list) {
    const whole =
      /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(w) ?? /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(w);
    if (whole) {
      const v = env[whole[1] as string];
      if (v === undefined) missing.push(whole[1] as string);
      else if (w.startsWith("${")) argv.push(v);
      else argv.push(...v.split(/\s+/).filter(Boolean));
      continue;
    }
    argv.push(
      w.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_x, k: string) => {
        const v = env[k];
        if (v === undefined) missing.push(k);
        return v ?? "";
      }),
    );
  }
  return { argv, missing };
}

/** `Environment=` assignments: each value is words of `KEY=value` (quotes group). */
export function unitEnvironment(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values)
    for (const w of splitUnitWords(v) ?? []) {
      const eq = w.indexOf("=");
      if (eq > 0) out[w.slice(0, eq)] = w.slice(eq + 1);
    }
  return out;
}

/** A capability list (`CAP_SETUID CAP_SETGID`, `~CAP_SYS_ADMIN`): names without CAP_, inverted. */
export function capabilityList(values: readonly string[]): { caps: string[]; inverted: boolean } {
  let caps = new Set<string>();
  let inverted = false;
  for (const v of values) {
    const inv = v.startsWith("~");
    const names = v
      .slice(inv ? 1 : 0)
      .split(/\s+/)
      .filter(Boolean)
      .map((n) => n.toUpperCase().replace(/^CAP_/, ""));
    if (inv !== inverted && caps.size > 0) caps = new Set();
    inverted = inv;
    for (const n of names) caps.add(n);
  }
  return { caps: [...caps].sort(), inverted };
}
