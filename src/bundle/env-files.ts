/**
 * environmentFiles are read when the container starts, never baked into a bundle: a bundle (and
 * so every generation kept on disk) holds only the environment the config writes out. The unit
 * composes the runtime's config.json on /run from the bundle's spec and the files, with one awk
 * run (mawk is in every Debian; Node stays off the start path, and so does a shell: the start
 * gains two execs, mkdir and awk), and starts the runtime there. The composed file lives in a
 * root-only directory on a tmpfs, and the stop removes it.
 *
 * The merge is the one docker does: a file's keys override the image's (and HOME, HOSTNAME),
 * later files override earlier ones, and the config's own `environment` overrides them all.
 * `mergeStartEnv` is the same merge in TypeScript, for `railyard run` and `diff`; a unit test
 * runs both over the same files. Pure.
 */
import type { ResolvedContainer, RootlessScope } from "../model/types.js";
import { runDir } from "../rootless/scope.js";
import { execQuote, quoteWord } from "../util/quote.js";

/** The awk program's file in each generation (the units reach it through `current`). */
export const START_ENV_FILE = "start-env.awk";

/** Where the start composes a container's config.json (per runtime id, on /run). */
export const startBundleDir = (id: string, scope?: RootlessScope): string =>
  `${runDir(scope)}/bundles/${id}`;

/**
 * The awk program, written into each generation as START_ENV_FILE. Its operands are the env
 * files, then the bundle's config.json (named by RAILYARD_SPEC); it writes RAILYARD_OUT. It parses the files as parseEnvFile does (bytes, ASCII whitespace), escapes
 * keys and values as JSON.stringify does, and rewrites the spec's process.env array, which
 * serializeSpec always writes one entry per line at a fixed indent, with at least HOME and
 * HOSTNAME in it. RAILYARD_KEEP lists the JSON-escaped keys of `environment` (which files do not
 * override); RAILYARD_ROOT is the bundle's real rootfs path, for a spec whose root is "rootfs".
 * A bad line is named by file and number, never shown.
 */
export const START_ENV_AWK = String.raw`BEGIN {
  for (i = 1; i < 32; i++) ctl[sprintf("%c", i)] = sprintf("\\u%04x", i)
  ctl["\b"] = "\\b"; ctl["\t"] = "\\t"; ctl["\n"] = "\\n"; ctl["\f"] = "\\f"; ctl["\r"] = "\\r"
  ctl["\""] = "\\\""; ctl["\\"] = "\\\\"
  n = split(ENVIRON["RAILYARD_KEEP"], k, "\n"); for (i = 1; i <= n; i++) keep[k[i]] = 1
  spec = ENVIRON["RAILYARD_SPEC"]; out = ENVIRON["RAILYARD_OUT"]
}
function esc(s,   o, i, c) {
  if (s !~ /[[:cntrl:]"\\]/) return s
  o = ""
  for (i = 1; i <= length(s); i++) { c = substr(s, i, 1); o = o ((c in ctl) ? ctl[c] : c) }
  return o
}
FILENAME != spec {
  sub(/\r$/, "")
  if ($0 ~ /^[ \t\v\f\r]*(#|$)/) next
  l = $0; sub(/^[ \t\v\f\r]+/, "", l)
  if (l ~ /^export[ \t\v\f\r]+[^= \t\v\f\r]+=/) sub(/^export[ \t\v\f\r]+/, "", l)
  if (l !~ /^[^= \t\v\f\r]+=/) {
    printf "railyard: %s:%d: expected KEY=value (the line is not shown: the file may hold secrets)\n", FILENAME, FNR > "/dev/stderr"
    bad = 1; exit 1
  }
  i = index(l, "="); key = esc(substr(l, 1, i - 1))
  if (key in keep) next
  if (!(key in val)) order[++m] = key
  val[key] = esc(substr(l, i + 1))
  next
}
inenv && /^    \],?$/ {
  for (j = 1; j <= m; j++) entry[++o] = "      \"" order[j] "=" val[order[j]] "\""
  for (j = 1; j < o; j++) print entry[j] "," > out
  if (o) print entry[o] > out
  inenv = 0; envs++; print > out; next
}
inenv {
  e = $0; sub(/,$/, "", e); key = e; sub(/^ *"/, "", key); key = substr(key, 1, index(key, "=") - 1)
  if (!(key in val)) entry[++o] = e
  next
}
/^    "env": \[$/ && !envs { inenv = 1; print > out; next }
/^    "path": "rootfs",?$/ && !rooted { $0 = "    \"path\": \"" esc(ENVIRON["RAILYARD_ROOT"]) "\"" (/,$/ ? "," : ""); rooted = 1 }
{ print > out }
END { if (!bad && envs != 1) { print "railyard: no process.env in " spec > "/dev/stderr"; exit 1 } }`;

/** A key as JSON writes it inside a string. */
const jsonEscaped = (s: string): string => JSON.stringify(s).slice(1, -1);

/** What the start runs: the environment the awk program reads, then two commands. */
export interface EnvFileStart {
  readonly env: Readonly<Record<string, string>>;
  readonly mkdir: readonly string[];
  /** The composed config made empty and 0600 first: awk's own file would be 0644. */
  readonly create: readonly string[];
  readonly awk: readonly string[];
  /** The directory runc starts, holding the composed config.json. */
  readonly bundle: string;
}

/**
 * The start of a container with environmentFiles: compose `<startBundleDir>/config.json` from
 * the bundle at `realBundle` (its content-named directory: runc wants the root by its real
 * path) and the files, with `program` (START_ENV_AWK's file). Undefined without files.
 */
export function envFileStart(
  c: ResolvedContainer,
  id: string,
  realBundle: string,
  program: string,
  scope?: RootlessScope,
): EnvFileStart | undefined {
  if (c.environmentFiles.length === 0) return undefined;
  const dir = startBundleDir(id, scope);
  return {
    env: {
      RAILYARD_SPEC: `${realBundle}/config.json`,
      RAILYARD_ROOT: `${realBundle}/rootfs`,
      RAILYARD_OUT: `${dir}/config.json`,
      RAILYARD_KEEP: Object.keys(c.environment).map(jsonEscaped).sort().join("\n"),
    },
    mkdir: ["/bin/mkdir", "-p", "-m", "0700", dir],
    create: ["/usr/bin/install", "-m", "0600", "/dev/null", `${dir}/config.json`],
    awk: ["/usr/bin/awk", "-f", program, ...c.environmentFiles, `${realBundle}/config.json`],
    bundle: dir,
  };
}

/** The unit's lines for that start, and the stop's removal of the composed config. */
export function envFileUnitLines(s: EnvFileStart): { pre: string[]; post: string } {
  const env = Object.entries(s.env).map(([k, v]) => quoteWord(`${k}=${v}`, false));
  return {
    pre: [
      `Environment=${env.join(" ")}`,
      `ExecStartPre=${s.mkdir.map(execQuote).join(" ")}`,
      `ExecStartPre=${s.create.map(execQuote).join(" ")}`,
      `ExecStartPre=${s.awk.map(execQuote).join(" ")}`,
    ],
    post: `ExecStopPost=-/bin/rm -rf ${execQuote(s.bundle)}`,
  };
}

/** The start's merge, as the awk program does it, over the spec's env and the files' merged env. */
export function mergeStartEnv(
  specEnv: readonly string[],
  fileEnv: Readonly<Record<string, string>>,
  keep: Iterable<string>,
): string[] {
  const kept = new Set(keep);
  const fromFiles = Object.entries(fileEnv).filter(([k]) => !kept.has(k));
  const keys = new Set(fromFiles.map(([k]) => k));
  const keyOf = (e: string) => (e.includes("=") ? e.slice(0, e.indexOf("=")) : e);
  return [...specEnv.filter((e) => !keys.has(keyOf(e))), ...fromFiles.map(([k, v]) => `${k}=${v}`)];
}
