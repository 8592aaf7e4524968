/**
 * compose.yaml -> railyard config (pure). Reads the common service keys, interpolates variables
 * as compose does, and names in `warnings` every key or value it leaves out or changes. Problems
 * (a value that cannot mean anything) are collected with their paths and thrown once.
 */
import { isRecord } from "../../util/record.js";
import { basename } from "node:path";
import { checkProjectName } from "../../config/resolve/index.js";
import { checkName } from "../../model/parse.js";
import type { ContainerConfig, UserConfig } from "../../model/types.js";
import { ConfigError } from "../../errors.js";
import { declaredNetworks, ipv6Ports } from "./network.js";
import {
  type ImportContext,
  type Obj,
  type Path,
  Reader,
  describe,
  interpolateAll,
  kindOf,
} from "./reader.js";
import { declaredSecrets } from "./secrets.js";
import { service } from "./service.js";
export type { ImportContext } from "./reader.js";
export { DOCKER_CAPABILITIES } from "./capabilities.js";

export interface ImportResult {
  readonly config: UserConfig;
  /** One line per key or value left out or changed, with its compose path. */
  readonly warnings: readonly string[];
}

/** Top-level keys that carry nothing a container needs. */
export const QUIET_TOP = new Set(["version", "name", "services", "volumes", "networks", "secrets"]);

export function fromCompose(doc: unknown, ctx: ImportContext): ImportResult {
  const r = new Reader(ctx);
  if (!isRecord(doc))
    throw new ConfigError(ctx.file, [
      {
        path: "",
        message: `expected a compose file (a map with "services"), got ${kindOf(doc)}`,
      },
    ]);
  const top = (ctx.interpolated ? doc : interpolateAll(doc, r, [])) as Obj;
  for (const k of Object.keys(top))
    // x- keys are compose's extension fields (anchors for YAML aliases): nothing to run.
    if (!QUIET_TOP.has(k) && !k.startsWith("x-"))
      r.warn([k], "is not imported; railyard has no such setting");
  const own = railyardKeys(top["x-railyard"], r);
  const namedVolumes = isRecord(top["volumes"]) ? top["volumes"] : {};
  for (const [name, v] of Object.entries(namedVolumes))
    if (isRecord(v) && Object.keys(v).length > 0)
      r.warn(
        ["volumes", name],
        `${Object.keys(v).join(", ")} not imported; the volume becomes a host directory`,
      );

  const services = top["services"];
  const containers: Record<string, ContainerConfig> = {};
  if (!isRecord(services))
    r.problem(["services"], `expected a map of services, got ${describe(services)}`);
  else {
    const kept = new Set(
      Object.entries(services)
        .filter(([, s]) => isRecord(s) && (s["image"] !== undefined || s["build"] !== undefined))
        .map(([n]) => n),
    );
    // Services whose healthcheck is on: railyard's dependents wait until it passes.
    const checked = new Set(
      Object.entries(services)
        .filter(([, s]) => {
          const h = isRecord(s) ? s["healthcheck"] : undefined;
          const t = isRecord(h) ? h["test"] : undefined;
          return (
            isRecord(h) &&
            h["disable"] !== true &&
            t !== undefined &&
            !(Array.isArray(t) && t[0] === "NONE")
          );
        })
        .map(([n]) => n),
    );
    for (const [name, s] of Object.entries(services)) {
      const at: Path = ["services", name];
      const bad = checkName(name);
      if (bad) r.problem(at, `${bad}; rename the service`);
      if (!isRecord(s)) {
        r.problem(at, `expected a map, got ${describe(s)}`);
        continue;
      }
      if (s["image"] === undefined && s["build"] === undefined) {
        r.problem([...at, "image"], "is required (or build): railyard runs images");
        continue;
      }
      containers[name] = service(s, at, r, kept, checked);
    }
  }
  const networks = declaredNetworks(top["networks"], containers, r);
  for (const [name, c] of Object.entries(containers)) ipv6Ports(name, c, networks, r);
  const secrets = declaredSecrets(top["secrets"], r);
  const project = projectName(top["name"], ctx, r);
  if (r.problems.length > 0) throw new ConfigError(ctx.file, r.problems);
  return {
    config: {
      ...own,
      ...(project !== undefined ? { project } : {}),
      ...(Object.keys(networks).length > 0 ? { networks } : {}),
      ...(Object.keys(secrets).length > 0 ? { secrets } : {}),
      containers,
    },
    warnings: r.warnings,
  };
}

/**
 * `x-railyard:` railyard's own top-level settings in a compose file (stateDir, registries,
 * runtime, onFailure, ...), which compose ignores as an extension field: a compose file used as
 * the config keeps them. railyard's validation checks them with the rest.
 */
function railyardKeys(v: unknown, r: Reader): Partial<UserConfig> {
  if (v === undefined) return {};
  if (!isRecord(v)) {
    r.problem(["x-railyard"], `expected a map of railyard's settings, got ${describe(v)}`);
    return {};
  }
  const { containers, ...rest } = v;
  if (containers !== undefined)
    r.problem(["x-railyard", "containers"], "containers come from services; set their keys there");
  return rest as Partial<UserConfig>;
}

/**
 * The compose project's name, as compose picks it: the top-level `name`, else
 * COMPOSE_PROJECT_NAME (the environment, or .env), else the project directory's name, lowercased
 * with what a project name cannot hold left out. railyard prefixes units and runtime ids with it,
 * as compose prefixes its containers, so two projects that each have a `db` run side by side.
 */
export function projectName(given: unknown, ctx: ImportContext, r: Reader): string | undefined {
  const fromEnv = ctx.env["COMPOSE_PROJECT_NAME"];
  if (given !== undefined && typeof given !== "string") {
    r.problem(["name"], `expected a project name, got ${describe(given)}`);
    return undefined;
  }
  const explicit = given ?? (fromEnv || undefined);
  if (explicit !== undefined) {
    const bad = checkProjectName(explicit);
    if (bad) r.problem(given !== undefined ? ["name"] : ["COMPOSE_PROJECT_NAME"], bad);
    return bad ? undefined : explicit;
  }
  const name = basename(ctx.dir)
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "")
    .replace(/^[_-]+/, "")
    .slice(0, 32);
  if (name === "") {
    r.warn(["name"], `${ctx.dir} gives no project name; set name: in the compose file`);
    return undefined;
  }
  return name;
}
