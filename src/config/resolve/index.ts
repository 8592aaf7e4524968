/**
 * resolveConfig: a user's config, validated, with every default applied, as one frozen
 * ResolvedConfig, or one ConfigError with every problem by key path. Pure: host facts come in
 * through the context. The sections live beside it, one file each.
 */
import { posix } from "node:path";
import type { ResolveContext } from "./context.js";
import * as v from "valibot";
import { isRecord } from "../../util/record.js";
import { ConfigError, type ConfigProblem } from "../../errors.js";
import { checkAbsolutePath, checkName } from "../../model/parse.js";
import { DEFAULT_CDI_DIRS } from "../../model/cdi.js";
import type {
  ContainerConfig,
  ResolvedConfig,
  ResolvedContainer,
  UserConfig,
} from "../../model/types.js";
import { resolveContainer } from "./container.js";
import { dependencyCycles, joinedNetworkProblems } from "./graph.js";
import { networkProblems, resolveNetworks } from "./network.js";
import { describe, formatPath, schemaProblems } from "./problems.js";
import { containerSchema, topSchema } from "./schema.js";
import { resolveSecrets } from "./secrets.js";
import { rootlessProblems } from "../../rootless/scope.js";
import { idScope } from "../../model/ids.js";
export type { ResolveContext } from "./context.js";

export const DEFAULT_STATE_DIR = "/var/lib/railyard";

/**
 * Apply defaults and validate. Collects every problem in every container and throws one
 * ConfigError listing them all; returns a frozen ResolvedConfig otherwise. Pure: host facts come
 * in through `ctx`.
 */
export function resolveConfig(input: unknown, ctx: ResolveContext): Readonly<ResolvedConfig> {
  const problems: ConfigProblem[] = [];
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ConfigError(ctx.file, [
      {
        path: "",
        message: `the config must be an object with a "containers" key, got ${describe(input)}`,
      },
    ]);
  }
  const top = v.safeParse(topSchema, input);
  if (!top.success) problems.push(...schemaProblems(top.issues, []));
  const raw = input as UserConfig;
  const backend = top.success ? (top.output.backend ?? "oci") : "oci";

  const project = top.success ? top.output.project : undefined;
  const badProject = project === undefined ? undefined : checkProjectName(project);
  if (badProject) problems.push({ path: "project", message: badProject });
  const configStateDir = resolveStateDir(badProject ? undefined : project, raw.stateDir, problems);

  const cdiSpecDirs = [...((top.success ? top.output.cdiSpecDirs : undefined) ?? DEFAULT_CDI_DIRS)];
  cdiSpecDirs.forEach((d, i) => {
    const bad = checkAbsolutePath(d);
    if (bad) problems.push({ path: formatPath(["cdiSpecDirs", i]), message: bad });
  });

  const networks = top.success ? resolveNetworks(top.output.networks ?? {}, problems) : {};
  const secrets = top.success ? resolveSecrets(top.output.secrets ?? {}, problems) : {};
  if (typeof raw.onFailure === "string" && raw.onFailure.trim() === "")
    problems.push({ path: "onFailure", message: "must be a command: it cannot be empty" });
  const containers = resolveContainers(raw, {
    project,
    backend,
    networks: new Set(Object.keys(networks)),
    secrets: new Set(Object.keys(top.success ? (top.output.secrets ?? {}) : {})),
    ctx,
    problems,
  });
  problems.push(...unitClashes(containers));
  if (problems.length === 0) problems.push(...dependencyCycles(containers));
  problems.push(...networkProblems(networks, containers));
  problems.push(...joinedNetworkProblems(containers));
  if (problems.length > 0) throw new ConfigError(ctx.file, problems);

  const base: ResolvedConfig = {
    file: ctx.file,
    containers: Object.freeze(containers),
    runtime: top.success ? (top.output.runtime ?? "auto") : "auto",
    stateDir: configStateDir,
    backend,
    registries: Object.fromEntries(
      Object.entries((top.success ? top.output.registries : undefined) ?? {}).map(([host, r]) => [
        host,
        { insecure: r.insecure ?? false },
      ]),
    ),
    networks,
    secrets,
    ...(top.success && top.output.onFailure !== undefined
      ? { onFailure: top.output.onFailure }
      : {}),
    cdiSpecDirs,
    ...(project !== undefined ? { project } : {}),
  };
  return Object.freeze(forInvocation(base, ctx));
}

/** The config's own state dir: `stateDir`, else a project's own, else the default. */
function resolveStateDir(
  project: string | undefined,
  given: unknown,
  problems: ConfigProblem[],
): string {
  // A project keeps its generations apart from every other project's.
  let stateDir =
    project === undefined ? DEFAULT_STATE_DIR : posix.join(DEFAULT_STATE_DIR, "projects", project);
  if (typeof given === "string") {
    const bad = checkAbsolutePath(given);
    if (bad) problems.push({ path: "stateDir", message: bad });
    else stateDir = given;
  }
  return stateDir;
}

/** Every container, in name order, each with its problems at its own key path. */
function resolveContainers(
  raw: UserConfig,
  o: {
    project: string | undefined;
    backend: ResolvedConfig["backend"];
    networks: ReadonlySet<string>;
    secrets: ReadonlySet<string>;
    ctx: ResolveContext;
    problems: ConfigProblem[];
  },
): Record<string, ResolvedContainer> {
  const rawContainers = isRecord(raw.containers) ? raw.containers : {};
  const names = new Set(Object.keys(rawContainers));
  const containers: Record<string, ResolvedContainer> = {};
  for (const name of Object.keys(rawContainers).sort()) {
    const at = (...p: PropertyKey[]) => formatPath(["containers", name, ...p]);
    const badName = checkName(name);
    if (badName) o.problems.push({ path: at(), message: badName });
    const parsed = v.safeParse(containerSchema, rawContainers[name]);
    if (!parsed.success) {
      o.problems.push(...schemaProblems(parsed.issues, ["containers", name]));
      continue;
    }
    const c = resolveContainer(
      name,
      parsed.output as ContainerConfig,
      o.project,
      o.backend,
      names,
      o.networks,
      o.secrets,
      o.ctx,
      (path, message) => o.problems.push({ path: at(...path), message }),
    );
    if (c) containers[name] = c;
  }
  return containers;
}

/** Two containers with one unit name. */
function unitClashes(containers: Record<string, ResolvedContainer>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const units = new Map<string, string>();
  for (const c of Object.values(containers)) {
    const other = units.get(c.serviceName);
    if (other)
      problems.push({
        path: `containers.${c.name}.serviceName`,
        message: `${c.serviceName} is already the unit of containers.${other}`,
      });
    units.set(c.serviceName, c.name);
  }
  return problems;
}

/**
 * What this command adds to the config: the rootless scope (what it cannot run is a problem),
 * the state dir (--state-dir; a rootless user's own), and the id scope that state dir gives.
 */
function forInvocation(config: ResolvedConfig, ctx: ResolveContext): ResolvedConfig {
  if (ctx.rootless) {
    const problems = rootlessProblems(config, ctx.rootless);
    if (problems.length > 0) throw new ConfigError(ctx.file, problems);
  }
  const flag = ctx.stateDirFlag;
  if (flag !== undefined && !posix.isAbsolute(flag))
    throw new ConfigError(ctx.file, [
      { path: "--state-dir", message: `${JSON.stringify(flag)} must be an absolute path` },
    ]);
  // Resolved with no invocation (a test, an export of a file): the config as it says.
  if (ctx.defaultStateDir === undefined && flag === undefined) return config;
  const userDir = ctx.rootless ? ctx.defaultStateDir : undefined;
  const stateDir =
    flag ??
    (userDir === undefined
      ? config.stateDir
      : config.project === undefined
        ? userDir
        : posix.join(userDir, "projects", config.project));
  const scope = idScope(stateDir, ctx.defaultStateDir ?? DEFAULT_STATE_DIR);
  return {
    ...config,
    ...(ctx.rootless ? { rootless: ctx.rootless } : {}),
    stateDir,
    ...(scope ? { idScope: scope } : {}),
  };
}

/** Why a project name is not one, or undefined: compose's rule, which also fits a unit name. */
export function checkProjectName(name: string): string | undefined {
  return /^[a-z0-9][a-z0-9_-]{0,31}$/.test(name)
    ? undefined
    : `${JSON.stringify(name)} is not a project name. expected 1 to 32 of a-z, 0-9, "-" and "_", starting with a letter or digit`;
}
