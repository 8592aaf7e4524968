/**
 * A compose project as `docker compose` reads it, to one model (pure but for `read`): which
 * files (`-f`, COMPOSE_FILE, or compose.yaml and its compose.override.yaml), the `.env` with its
 * variables expanded, each file parsed and interpolated, `include`d projects, the files merged
 * in order, `extends` applied, and the services of profiles that are not active left out.
 */
import { dirname, isAbsolute, join, relative } from "node:path";
import { parseDocument, Scalar, visit } from "yaml";
import { ConfigError, type ConfigProblem } from "../../errors.js";
import { isRecord, own } from "../../util/record.js";
import { yamlProblem } from "../../util/parse-error.js";
import { parseDotEnv, type Env } from "../interpolate.js";
import { isRemoteContext } from "../../model/git-context.js";
import { mergeFiles, mergeValue, Override, RESET, settle } from "./merge.js";
import { interpolateAll, kindOf, Reader, type Obj } from "./reader.js";

/** The names compose looks for in the project directory, in its order. */
export const DEFAULT_FILES = [
  "compose.yaml",
  "compose.yml",
  "docker-compose.yaml",
  "docker-compose.yml",
];
export const OVERRIDE_FILES = [
  "compose.override.yaml",
  "compose.override.yml",
  "docker-compose.override.yaml",
  "docker-compose.override.yml",
];

export interface ProjectOptions {
  /** Files given with `-f`, absolute; none: COMPOSE_FILE, else the default file and override. */
  readonly files: readonly string[];
  /** The project directory: where `.env` and the default files are. */
  readonly dir: string;
  /** The environment, which wins over `.env`. */
  readonly env: Env;
  /** `--profile`; none: COMPOSE_PROFILES. */
  readonly profiles: readonly string[];
}

export interface ComposeProject {
  /** The files read, in the order they were merged. */
  readonly files: readonly string[];
  readonly dir: string;
  /** The environment over `.env`: what the files were interpolated with. */
  readonly env: Env;
  /** The merged model: interpolated, `include` and `extends` applied, inactive profiles left out. */
  readonly doc: Obj;
  /** The profiles that are active. */
  readonly profiles: readonly string[];
  readonly warnings: readonly string[];
}

/** A file's text; undefined when there is no such file (other failures throw a ConfigError). */
export type ReadText = (file: string) => string | undefined;

/** YAML to a model, with compose's `!reset` and `!override` tags kept as markers for the merge. */
export function parseComposeYaml(text: string, file: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0)
    throw new ConfigError(file, [
      { path: "", message: `not valid YAML at ${yamlProblem(doc.errors[0] as Error)}` },
    ]);
  visit(doc, {
    Node(_, node) {
      if (node.tag === "!reset") return new Scalar(RESET);
      if (node.tag === "!override") return new Scalar(new Override(node.toJSON()));
      return undefined;
    },
  });
  return doc.toJS({ maxAliasCount: 1000 });
}

/** The whole project read as compose reads it; problems are thrown as one ConfigError per file. */
export function composeProject(o: ProjectOptions, readFile: ReadText): ComposeProject {
  // Each file is read once: finding the default files reads them, and extends may name a file
  // for several services.
  const texts = new Map<string, string | undefined>();
  const read: ReadText = (f) => {
    if (!texts.has(f)) texts.set(f, readFile(f));
    return texts.get(f);
  };
  const warnings: string[] = [];
  const dotEnvFile = join(o.dir, ".env");
  const env = { ...readDotEnv(dotEnvFile, o.env, read), ...o.env };
  const files = projectFiles(o, env, read);
  const many = files.length > 1;
  // Every file's relative paths are the project directory's, as compose reads them.
  const docs = files.map((file) =>
    loadFile(file, {
      env,
      read,
      including: [],
      warn: (w) => warnings.push(many ? `${file}: ${w}` : w),
    }),
  );
  const merged = mergeFiles(docs);
  const problems: ConfigProblem[] = [];
  applyExtends(merged, o.dir, env, read, problems);
  const profiles = applyProfiles(merged, o.profiles, env, problems, warnings);
  if (problems.length > 0) throw new ConfigError(files[0] as string, problems);
  return { files, dir: o.dir, env, doc: merged, profiles, warnings };
}

/** `.env`, its values expanded from the environment and the lines above; none is no error. */
function readDotEnv(file: string, env: Env, read: ReadText): Record<string, string> {
  const text = read(file);
  if (text === undefined) return {};
  const parsed = parseDotEnv(text, env);
  if ("badLine" in parsed)
    throw new ConfigError(`${file}:${parsed.badLine}`, [
      { path: "", message: parsed.why ?? "expected KEY=value" },
    ]);
  return parsed.vars;
}

/** `-f` files, else COMPOSE_FILE's (split on COMPOSE_PATH_SEPARATOR), else the defaults. */
function projectFiles(o: ProjectOptions, env: Env, read: ReadText): string[] {
  if (o.files.length > 0) return [...o.files];
  const listed = env["COMPOSE_FILE"];
  if (listed) {
    const sep = env["COMPOSE_PATH_SEPARATOR"] || ":";
    return listed
      .split(sep)
      .filter((f) => f !== "")
      .map((f) => (isAbsolute(f) ? f : join(o.dir, f)));
  }
  const exists = (name: string) => read(join(o.dir, name)) !== undefined;
  const base = DEFAULT_FILES.find(exists);
  if (base === undefined)
    throw new ConfigError(o.dir, [
      { path: "", message: `no compose file: expected one of ${DEFAULT_FILES.join(", ")}` },
    ]);
  const override = OVERRIDE_FILES.find(exists);
  return [join(o.dir, base), ...(override ? [join(o.dir, override)] : [])];
}

/** What reading a file needs: the variables, the reader, the files including it, warnings. */
interface Loading {
  readonly env: Env;
  readonly read: ReadText;
  readonly including: readonly string[];
  readonly warn: (w: string) => void;
}

/** One file: parsed, interpolated, and its `include`s added. */
function loadFile(file: string, l: Loading): Obj {
  const { env, read, warn } = l;
  const text = read(file);
  if (text === undefined) throw new ConfigError(file, [{ path: "", message: "no such file" }]);
  const raw = parseComposeYaml(text, file);
  if (!isRecord(raw))
    throw new ConfigError(file, [
      { path: "", message: `expected a compose file (a map with "services"), got ${kindOf(raw)}` },
    ]);
  const r = new Reader({ file, dir: dirname(file), env, volumesDir: "", home: "" });
  const doc = interpolateAll(raw, r, []) as Obj;
  if (r.problems.length > 0) throw new ConfigError(file, r.problems);
  r.warnings.forEach(warn);
  return applyInclude(doc, file, { ...l, including: [...l.including, file] });
}

/**
 * `include:` each entry is a project of its own (its paths relative to its own directory), whose
 * services, networks, volumes, secrets and configs join this file's; a name both define is an
 * error, as compose says.
 */
function applyInclude(doc: Obj, file: string, l: Loading): Obj {
  const list = doc["include"];
  if (list === undefined) return doc;
  const { include: _, ...rest } = doc;
  const problems: ConfigProblem[] = [];
  if (!Array.isArray(list)) {
    problems.push({ path: "include", message: `expected a list, got ${kindOf(list)}` });
    throw new ConfigError(file, problems);
  }
  const out: Obj = { ...rest };
  list.forEach((entry, i) => {
    const spec: Obj = isRecord(entry) ? entry : { path: entry };
    const paths = (Array.isArray(spec["path"]) ? spec["path"] : [spec["path"]]).map((p) =>
      isAbsolute(String(p)) ? String(p) : join(dirname(file), String(p)),
    );
    const first = paths[0] as string;
    const cycle = paths.find((p) => l.including.includes(p));
    if (cycle !== undefined) {
      problems.push({ path: `include[${i}]`, message: `${cycle} includes itself` });
      return;
    }
    const dir =
      spec["project_directory"] !== undefined
        ? join(dirname(file), String(spec["project_directory"]))
        : dirname(first);
    const included = mergeFiles(paths.map((p) => rebase(loadFile(p, l), dirname(p), dir)));
    const absolute = rebase(included, dir, "/");
    for (const section of ["services", "networks", "volumes", "secrets", "configs"]) {
      const theirs = absolute[section];
      if (!isRecord(theirs)) continue;
      const ours = isRecord(out[section]) ? { ...(out[section] as Obj) } : {};
      for (const [name, v] of Object.entries(theirs)) {
        if (own(ours, name) !== undefined && section === "services")
          problems.push({
            path: `include[${i}]`,
            message: `${first} defines the service ${name}, which this file defines too`,
          });
        else if (own(ours, name) === undefined) ours[name] = v;
      }
      out[section] = ours;
    }
  });
  if (problems.length > 0) throw new ConfigError(file, problems);
  return out;
}

/**
 * Relative host paths of a model read from `from`, made relative to `to` (or absolute, for
 * `to` "/"): build contexts, env_files, bind sources, secret and config files, extends files.
 */
export function rebase(doc: Obj, from: string, to: string): Obj {
  if (from === to) return doc;
  const move = (p: string) => {
    if (isAbsolute(p) || p.startsWith("~") || isRemoteContext(p)) return p;
    const abs = join(from, p);
    if (to === "/") return abs;
    const rel = relative(to, abs);
    return rel.startsWith(".") ? rel : `./${rel}`;
  };
  const services = isRecord(doc["services"]) ? doc["services"] : {};
  const moved: Obj = {};
  for (const [name, s] of Object.entries(services)) {
    if (!isRecord(s)) {
      moved[name] = s;
      continue;
    }
    const c: Obj = { ...s };
    const build = c["build"];
    if (typeof build === "string") c["build"] = move(build);
    else if (isRecord(build) && typeof build["context"] === "string")
      c["build"] = { ...build, context: move(build["context"]) };
    const envFile = c["env_file"];
    const moveEnvFile = (e: unknown) =>
      typeof e === "string"
        ? move(e)
        : isRecord(e) && typeof e["path"] === "string"
          ? { ...e, path: move(e["path"]) }
          : e;
    if (envFile !== undefined)
      c["env_file"] = Array.isArray(envFile) ? envFile.map(moveEnvFile) : moveEnvFile(envFile);
    if (Array.isArray(c["volumes"]))
      c["volumes"] = c["volumes"].map((v) => {
        if (typeof v === "string") {
          const [src, ...restParts] = v.split(":");
          return restParts.length > 0 && src !== undefined && src.startsWith(".")
            ? [move(src), ...restParts].join(":")
            : v;
        }
        return isRecord(v) && v["type"] === "bind" && typeof v["source"] === "string"
          ? { ...v, source: move(v["source"]) }
          : v;
      });
    const ext = c["extends"];
    if (isRecord(ext) && typeof ext["file"] === "string")
      c["extends"] = { ...ext, file: move(ext["file"]) };
    moved[name] = c;
  }
  const out: Obj = { ...doc, ...(isRecord(doc["services"]) ? { services: moved } : {}) };
  for (const section of ["secrets", "configs"]) {
    const list = doc[section];
    if (!isRecord(list)) continue;
    out[section] = Object.fromEntries(
      Object.entries(list).map(([k, v]) => [
        k,
        isRecord(v) && typeof v["file"] === "string" ? { ...v, file: move(v["file"]) } : v,
      ]),
    );
  }
  return out;
}

/** `extends:` a service (of this model, or of another file) under the service's own keys. */
function applyExtends(
  doc: Obj,
  dir: string,
  env: Env,
  read: ReadText,
  problems: ConfigProblem[],
): void {
  const services = doc["services"];
  if (!isRecord(services)) return;
  const done = new Map<string, Obj>();
  const resolve = (name: string, pool: Obj, where: string, stack: string[]): Obj | undefined => {
    const key = `${where}\0${name}`;
    const cached = done.get(key);
    if (cached) return cached;
    const s = own(pool, name);
    if (!isRecord(s)) return undefined;
    const ext = s["extends"];
    if (ext === undefined) return s;
    const at = `services.${stack[0] ?? name}.extends`;
    if (stack.includes(key)) {
      problems.push({
        path: at,
        message: `${name} extends itself through ${stack.length} services`,
      });
      return undefined;
    }
    const spec = typeof ext === "string" ? { service: ext } : isRecord(ext) ? ext : {};
    const baseName = spec["service"];
    if (typeof baseName !== "string") {
      problems.push({ path: at, message: "expected a service name, or { service, file }" });
      return undefined;
    }
    let basePool = pool;
    let baseWhere = where;
    if (typeof spec["file"] === "string") {
      const file = isAbsolute(spec["file"]) ? spec["file"] : join(dir, spec["file"]);
      const other = rebase(
        loadFile(file, { env, read, including: [], warn: () => {} }),
        dirname(file),
        dir,
      );
      basePool = isRecord(other["services"]) ? other["services"] : {};
      baseWhere = file;
    }
    const base = resolve(baseName, basePool, baseWhere, [...stack, key]);
    if (base === undefined) {
      if (!problems.some((p) => p.path === at))
        problems.push({ path: at, message: `there is no service ${baseName} to extend` });
      return undefined;
    }
    const { extends: _, ...local } = s;
    // At the service's own path, so that compose's rules for its keys apply.
    const result = settle(mergeValue(base, local, ["services", name])) as Obj;
    done.set(key, result);
    return result;
  };
  for (const name of Object.keys(services)) {
    const s = resolve(name, services, "", []);
    if (s) services[name] = s;
  }
}

/**
 * A service with `profiles` runs only when one of them is active (`--profile`, else
 * COMPOSE_PROFILES; `*` is all). The others are left out, each said; a profile no service has is
 * an error, as is a service that depends on one left out.
 */
function applyProfiles(
  doc: Obj,
  given: readonly string[],
  env: Env,
  problems: ConfigProblem[],
  warnings: string[],
): string[] {
  const active =
    given.length > 0
      ? [...given]
      : (env["COMPOSE_PROFILES"] ?? "")
          .split(",")
          .map((p) => p.trim())
          .filter((p) => p !== "");
  const services = isRecord(doc["services"]) ? doc["services"] : {};
  const profilesOf = (s: unknown): string[] =>
    isRecord(s) && Array.isArray(s["profiles"]) ? s["profiles"].map(String) : [];
  const known = new Set(Object.values(services).flatMap(profilesOf));
  for (const p of active)
    if (p !== "*" && !known.has(p))
      problems.push({
        path: "profiles",
        message: `no service is in the profile ${JSON.stringify(p)}${known.size > 0 ? `; the profiles are ${[...known].sort().join(", ")}` : ""}`,
      });
  const off = new Set<string>();
  for (const [name, s] of Object.entries(services)) {
    const ps = profilesOf(s);
    if (ps.length === 0 || active.includes("*") || ps.some((p) => active.includes(p))) {
      if (isRecord(s)) delete s["profiles"];
      continue;
    }
    off.add(name);
    delete services[name];
    warnings.push(
      `services.${name}: in the profile ${ps.join(", ")}, which is not active; left out (--profile ${ps[0]} or COMPOSE_PROFILES=${ps[0]} runs it)`,
    );
  }
  for (const [name, s] of Object.entries(services)) {
    const deps = isRecord(s) ? s["depends_on"] : undefined;
    const names = Array.isArray(deps) ? deps.map(String) : isRecord(deps) ? Object.keys(deps) : [];
    for (const d of names.filter((n) => off.has(n)))
      problems.push({
        path: `services.${name}.depends_on`,
        message: `${d} is in a profile that is not active; activate it (--profile) or remove the dependency`,
      });
  }
  return active;
}
