import { DEFAULT_STATE_DIR } from "./resolve/index.js";
import { parseIdFile } from "../model/accounts.js";
import { readOr } from "../util/read-file.js";
import { isRecord } from "../util/record.js";
import { jsonProblem, yamlProblem } from "../util/parse-error.js";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, extname, resolve as resolvePath } from "node:path";
import { ConfigError } from "../errors.js";
import { compiledConfig, configCacheDir, type CompiledOnly } from "./compile.js";
import { evaluateConfig } from "./evaluate.js";
import type { ConfigEnv, UserConfigExport } from "./define.js";
import { resolveConfig, type ResolveContext } from "./resolve/index.js";
import type { ResolvedConfig, RootlessScope } from "../model/types.js";
import { normaliseArch } from "../model/parse.js";

export const CONFIG_NAMES = [
  "railyard.config.ts",
  "railyard.config.mjs",
  "railyard.config.js",
  "railyard.config.json",
  "railyard.config.yaml",
  "railyard.config.yml",
];

export interface FindOptions {
  /** `--config FILE` */
  readonly flag?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Where system-wide configs live. @default "/etc/railyard" */
  readonly etcDir?: string;
  readonly exists?: (p: string) => boolean;
}

/**
 * Which config file to use: `--config`, then `$RAILYARD_CONFIG`, then `./railyard.config.*`, then
 * `/etc/railyard/railyard.config.*`. A named file that does not exist is an error, not a fall-through.
 */
export function findConfigFile(o: FindOptions): string {
  const exists = o.exists ?? existsSync;
  const named = o.flag ?? o.env["RAILYARD_CONFIG"];
  if (named !== undefined && named !== "") {
    const p = resolvePath(o.cwd, named);
    if (!exists(p))
      throw new ConfigError(p, [
        {
          path: "",
          message: `config file not found (named by ${o.flag !== undefined ? "--config" : "$RAILYARD_CONFIG"})`,
        },
      ]);
    return p;
  }
  const dirs = [o.cwd, o.etcDir ?? "/etc/railyard"];
  for (const dir of dirs)
    for (const n of CONFIG_NAMES) {
      const p = resolvePath(dir, n);
      if (exists(p)) return p;
    }
  // Named by the directory searched: no file of the names below is there.
  throw new ConfigError(resolvePath(o.cwd), [
    {
      path: "",
      message:
        `no config file found. looked for ${CONFIG_NAMES.join(", ")} in ${dirs.join(" and ")}. ` +
        "create one, or pass --config FILE or set RAILYARD_CONFIG",
    },
  ]);
}

/**
 * Read and evaluate a config file of any supported kind. Errors name the file and the position.
 * `compiledOnly`: a script config is run only if an earlier command compiled and loaded it.
 */
export async function readConfigFile(
  file: string,
  env: ConfigEnv,
  o: CompiledOnly = {},
): Promise<unknown> {
  const ext = extname(file);
  let text: string | undefined;
  if (ext === ".json" || ext === ".yaml" || ext === ".yml") {
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new ConfigError(file, [{ path: "", message: `cannot read: ${(e as Error).message}` }]);
    }
  }
  if (ext === ".json") {
    try {
      return JSON.parse(text ?? "");
    } catch (e) {
      throw new ConfigError(file, [{ path: "", message: jsonProblem(e, text ?? "") }]);
    }
  }
  if (ext === ".yaml" || ext === ".yml") {
    const { parseDocument } = await import("yaml");
    const doc = parseDocument(text ?? "", { uniqueKeys: true });
    if (doc.errors.length > 0)
      throw new ConfigError(
        file,
        doc.errors.map((e) => ({
          path: "",
          message: `invalid YAML at ${yamlProblem(e)}`,
        })),
      );
    try {
      return doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      // The yaml library refuses an alias bomb (aliases that expand exponentially) here.
      throw new ConfigError(file, [
        { path: "", message: `invalid YAML: ${(e as Error).message.split("\n")[0]}` },
      ]);
    }
  }
  if (![".ts", ".mts", ".mjs", ".js", ".cjs"].includes(ext))
    throw new ConfigError(file, [
      {
        path: "",
        message: `unsupported config file type "${ext}". expected .ts, .mjs, .js, .json or .yaml`,
      },
    ]);
  const problem = (message: string) => new ConfigError(file, [{ path: "", message }]);
  const cannotLoad = (e: unknown) => problem(`cannot load: ${firstLines((e as Error).message)}`);
  const noDefault = () =>
    problem("has no default export. expected `export default defineConfig({ ... })`");
  let compiled;
  try {
    compiled = await compiledConfig(file, { ...o, cacheDir: configCacheDir(env.env) });
  } catch (e) {
    throw cannotLoad(e);
  }
  const ms = Number(env.env["RAILYARD_CONFIG_TIMEOUT_MS"] ?? CONFIG_SETTLE_MS);
  if (!compiled.checked) {
    // Its first load, within limits (evaluate.ts); what it gives is used as it is.
    const r = await evaluateConfig(compiled.module, env, ms);
    if (r.kind === "timeout")
      throw problem(
        r.settling
          ? EXPORT_PROBLEM.unsettled(ms)
          : `did not finish loading within ${ms / 1000} s: its code runs on (an endless loop?). expected a config object, or a function or promise that gives one`,
      );
    if (r.kind === "memory")
      throw problem(`used more than ${r.mb} MiB of memory while loading, and was stopped`);
    if (r.kind === "nodefault") throw noDefault();
    if (r.kind === "threw") throw problem(EXPORT_PROBLEM.failed(firstLines(r.message)));
    if (r.kind === "notdata") throw problem(EXPORT_PROBLEM.notData(firstLines(r.message)));
    if (r.kind === "load") throw cannotLoad(new Error(r.message));
    compiled.markChecked();
    return r.json === undefined ? undefined : (JSON.parse(r.json) as unknown);
  }
  let mod: unknown;
  try {
    const ns = (await import(compiled.module)) as { default?: unknown } | undefined;
    mod = ns?.default;
  } catch (e) {
    throw cannotLoad(e);
  }
  const exported = mod as UserConfigExport | undefined;
  if (exported === undefined) throw noDefault();
  return settleExport(exported, env, file, ms);
}

/** What a script config's default export did wrong, in one wording for both ways it is loaded. */
const EXPORT_PROBLEM = {
  unsettled: (ms: number) =>
    `the default export did not settle within ${ms / 1000} s. expected a config object, or a function or promise that gives one`,
  failed: (why: string) => `the default export failed: ${why}`,
  notData: (why: string) =>
    `the config is not plain data (a getter threw, or it refers to itself): ${why}`,
};

/** How long a script config's default export (a promise, or a function's result) may take. */
const CONFIG_SETTLE_MS = 30_000;

/**
 * The config a script exports, settled within CONFIG_SETTLE_MS (a timer also keeps node alive,
 * so a promise that never settles is an error, not a silent exit 0) and copied into plain data,
 * so that a getter that throws or a cycle is a config error here, not a crash later.
 */
async function settleExport(
  exported: UserConfigExport,
  env: ConfigEnv,
  file: string,
  ms: number,
): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ConfigError(file, [{ path: "", message: EXPORT_PROBLEM.unsettled(ms) }])),
      ms,
    );
  });
  const fail = (message: (why: string) => string, e: unknown) =>
    new ConfigError(file, [{ path: "", message: message(thrown(e)) }]);
  let value: unknown;
  try {
    value = await Promise.race([
      (async () => (typeof exported === "function" ? await exported(env) : await exported))(),
      late,
    ]);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw fail(EXPORT_PROBLEM.failed, e);
  } finally {
    clearTimeout(timer);
  }
  try {
    return value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown);
  } catch (e) {
    throw fail(EXPORT_PROBLEM.notData, e);
  }
}

/** What a script threw, whatever it was: an Error's first lines, or the value's type. */
function thrown(e: unknown): string {
  if (e instanceof Error) return firstLines(e.message);
  if (typeof e === "string") return firstLines(e);
  return `it threw ${e === null ? "null" : typeof e} rather than an Error`;
}

function firstLines(s: string): string {
  return s.split("\n").slice(0, 6).join("\n");
}

/** Host facts for `resolveConfig`, read from a filesystem root (default `/`). */
export function hostResolveContext(
  file: string,
  root = "/",
  arch: string = process.arch,
): ResolveContext {
  const passwd = parseIdFile(readOr(resolvePath(root, "etc/passwd"), ""));
  const group = parseIdFile(readOr(resolvePath(root, "etc/group"), ""));
  const byUid = new Map([...passwd].map(([n, [u]]) => [u, n] as const).reverse());
  const byGid = new Map([...group].map(([n, [g]]) => [g, n] as const).reverse());
  return {
    file,
    hostArch: normaliseArch(arch),
    lookupUser: (n) => {
      const u = passwd.get(n);
      return u ? { uid: u[0], gid: u[1] } : undefined;
    },
    lookupGroup: (n) => group.get(n)?.[0],
    userName: (uid) => byUid.get(uid),
    groupName: (gid) => byGid.get(gid),
  };
}

export interface LoadOptions extends FindOptions {
  readonly command: string;
  /** `--state-dir`, which overrides the config's `stateDir`. */
  readonly stateDir?: string | undefined;
  /**
   * The state dir that gets plain runtime ids: /var/lib/railyard, or a rootless user's own,
   * which a rootless config always uses (a project in projects/PROJECT below it).
   */
  readonly defaultStateDir?: string;
  /** `--user`: build for this rootless scope; what it cannot run is a config error. */
  readonly rootless?: RootlessScope;
  /** Run a script config only if it was compiled and loaded before (readConfigFile). */
  readonly compiledOnly?: boolean;
  /**
   * Reads a compose file as a config: the importer lives on a floor above this one, so the CLI
   * passes it in. Without it, a compose file is read as a railyard config (and refused).
   */
  readonly compose?: (file: string) => Promise<unknown>;
  /** What the host says of its programs as Debian services (closure/service.ts, a floor above). */
  readonly hostService?: import("../model/host-service.js").HostServiceReader;
}

/** compose.yaml, docker-compose.yml, compose.prod.yaml, ...: the names compose files go by. */
export const isComposeName = (file: string): boolean =>
  /^(docker-)?compose(\.[\w.-]+)?\.ya?ml$/.test(basename(file));

/** Find, read, validate: the one call the CLI makes to get a ResolvedConfig. */
export async function loadConfig(o: LoadOptions): Promise<Readonly<ResolvedConfig>> {
  const file = findConfigFile(o);
  let raw =
    o.compose && isComposeName(file)
      ? await o.compose(file)
      : await readConfigFile(
          file,
          { command: o.command, env: o.env },
          o.compiledOnly ? { compiledOnly: true } : {},
        );
  // A YAML file of another name that is a compose file (services, no containers) is one too.
  if (o.compose && !isComposeName(file) && isComposeDoc(file, raw)) raw = await o.compose(file);
  return resolveConfig(raw, {
    ...hostResolveContext(file),
    ...(o.rootless ? { rootless: o.rootless } : {}),
    ...(o.stateDir !== undefined ? { stateDirFlag: o.stateDir } : {}),
    ...(o.hostService ? { hostService: o.hostService } : {}),
    defaultStateDir: o.defaultStateDir ?? DEFAULT_STATE_DIR,
  });
}

export const configDir = (c: ResolvedConfig): string => dirname(c.file);

const isComposeDoc = (file: string, raw: unknown): boolean =>
  /\.ya?ml$/.test(file) && isRecord(raw) && "services" in raw && !("containers" in raw);
