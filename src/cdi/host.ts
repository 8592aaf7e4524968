/**
 * CDI at build time: the spec files read from their directories, and a container's requested
 * devices turned into what its bundle gets (device nodes with the host's numbers, bind mounts
 * of host files that exist, hooks whose programs exist, environment, groups). Everything is
 * checked here, so a missing driver file fails `railyard build` with its name instead of the
 * container's start; and everything lands in config.json, so a changed spec (a driver update)
 * changes the bundle's fingerprint and the switch restarts exactly the containers that use it.
 */
import { accessSync, constants, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import type { ResolvedConfig, ResolvedContainer, ResolvedMount } from "../model/types.js";
import { BuildError, type ConfigProblem } from "../errors.js";
import { hostNode } from "../host/devices.js";
import { jsonProblem, yamlProblem } from "../util/parse-error.js";
import {
  cdiNames,
  cdiRegistry,
  cdiResolve,
  parseCdiSpec,
  type CdiEdits,
  type CdiProblem,
  type CdiRegistry,
  type CdiSpec,
} from "./spec.js";

/**
 * Every spec in `dirs` (`*.json`, `*.yaml`), with the problems of those that are not valid. The
 * yaml library is loaded only when there is a YAML spec: the bundled CLI keeps it outside.
 */
export async function loadCdiRegistry(dirs: readonly string[]): Promise<CdiRegistry> {
  const specs: CdiSpec[] = [];
  const problems: CdiProblem[] = [];
  let yaml: typeof import("yaml") | undefined;
  for (const [priority, dir] of dirs.entries()) {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT")
        problems.push({ file: dir, message: `cannot be read: ${(e as Error).message}` });
      continue;
    }
    for (const name of names) {
      const ext = extname(name);
      if (ext !== ".json" && ext !== ".yaml") continue;
      const file = join(dir, name);
      let text: string;
      try {
        if (!statSync(file).isFile()) continue;
        text = readFileSync(file, "utf8");
      } catch (e) {
        problems.push({ file, message: `cannot be read: ${(e as Error).message}` });
        continue;
      }
      let doc: unknown;
      try {
        if (ext === ".json") doc = JSON.parse(text);
        else {
          yaml ??= await import("yaml");
          doc = yaml.parse(text);
        }
      } catch (e) {
        problems.push({
          file,
          message: yaml && e instanceof yaml.YAMLParseError ? yamlProblem(e) : jsonProblem(e, text),
        });
        continue;
      }
      const r = parseCdiSpec(doc, file, priority);
      if ("spec" in r) specs.push(r.spec);
      else problems.push(...r.problems.map((message) => ({ file, message })));
    }
  }
  return cdiRegistry(dirs, specs, problems);
}

/** Why requested devices cannot be had, with the names this host has and the specs left out. */
function missingMessage(
  registry: CdiRegistry,
  missing: readonly { name: string; why: string }[],
): string {
  const broken = registry.problems.map((p) => `  ${p.file}: ${p.message}`);
  return (
    `${missing.map((m) => `${m.name}: ${m.why}`).join("; ")}. ` +
    `CDI devices on this host (from ${registry.dirs.join(", ")}): ${cdiNames(registry).join(", ") || "none"}` +
    (broken.length ? `\nspecs left out because they are not valid:\n${broken.join("\n")}` : "")
  );
}

/**
 * The config's CDI names that no spec on this host defines (or two specs do), as config
 * problems: `railyard check` refuses them as it refuses any other bad key. The specs are read
 * only when a container asks for a CDI device.
 */
export async function cdiConfigProblems(config: ResolvedConfig): Promise<ConfigProblem[]> {
  const users = Object.values(config.containers).filter((c) => c.cdiDevices.length > 0);
  if (users.length === 0) return [];
  const registry = await loadCdiRegistry(config.cdiSpecDirs);
  return users.flatMap((c) => {
    const res = cdiResolve(registry, c.cdiDevices);
    return "missing" in res
      ? [{ path: `containers.${c.name}.devices`, message: missingMessage(registry, res.missing) }]
      : [];
  });
}

/** A device node the container gets, with the host's numbers filled in. */
export interface InjectedDevice {
  readonly path: string;
  readonly type: "b" | "c" | "u" | "p";
  readonly major: number;
  readonly minor: number;
  readonly fileMode: number;
  readonly uid: number;
  readonly gid: number;
  /** cgroup access ("" for none). */
  readonly access: string;
}

/** What a container's CDI devices add to its bundle: their edits, checked against the host. */
export interface CdiInjection extends Pick<CdiEdits, "env" | "hooks" | "additionalGids"> {
  readonly devices: readonly InjectedDevice[];
  readonly mounts: readonly ResolvedMount[];
}

/**
 * The container's CDI devices resolved against the registry and the host. `user` is the
 * process's: a node without its own owner belongs to it (as the CDI reference does), so a
 * service user can open it. Throws BuildError naming the device, its spec file and what is wrong.
 */
export function cdiInjection(
  c: ResolvedContainer,
  registry: CdiRegistry,
  user: { uid: number; gid: number },
): CdiInjection | undefined {
  if (c.cdiDevices.length === 0) return undefined;
  const at = `containers.${c.name}.devices`;
  const res = cdiResolve(registry, c.cdiDevices);
  if ("missing" in res)
    throw new BuildError(`${at}: ${missingMessage(registry, res.missing)}`, c.name);
  const e = res.edits;
  const from = (name: string) => `${name} (${res.files.get(name) ?? "?"})`;
  const requested = c.cdiDevices.map(from).join(", ");
  const fail = (what: string): never => {
    throw new BuildError(`${at}: CDI ${requested}: ${what}`, c.name);
  };
  if (e.unsupported.length > 0) fail(`railyard does not apply ${e.unsupported.join(" or ")} edits`);

  const devices = e.deviceNodes.map((d): InjectedDevice => {
    const found = hostNode(d.hostPath);
    const host = typeof found === "object" ? found : undefined;
    const known = d.type !== undefined && (d.major !== undefined || d.type === "p");
    if (!host && !known)
      fail(`${d.hostPath} is not a device node on this host (is the driver loaded?)`);
    if (
      host &&
      d.type !== undefined &&
      d.type !== host.type &&
      !(d.type === "u" && host.type === "c")
    )
      fail(`${d.hostPath} is a ${host.type} device on this host, the spec says ${d.type}`);
    const type = d.type ?? (host?.type as InjectedDevice["type"]);
    return {
      path: d.path,
      type,
      major: d.major ?? host?.major ?? 0,
      minor: d.minor ?? host?.minor ?? 0,
      fileMode: d.fileMode ?? host?.fileMode ?? 0o666,
      uid: d.uid ?? user.uid,
      gid: d.gid ?? user.gid,
      access: d.permissions,
    };
  });
  for (const d of devices)
    if (c.devices.some((x) => x.path === d.path))
      fail(`${d.path} is also a device of the container's own; list it once`);

  const mounts = e.mounts.map((m): ResolvedMount => {
    try {
      statSync(m.hostPath);
    } catch {
      fail(`mounts ${m.hostPath}, which does not exist on this host`);
    }
    const bind = m.options.includes("bind") || m.options.includes("rbind");
    if (m.type === undefined && !bind)
      fail(`the mount of ${m.containerPath} has neither a type nor a bind option`);
    return {
      destination: m.containerPath,
      type: m.type ?? "bind",
      source: m.hostPath,
      options: [...m.options],
      origin: `devices ${requested}`,
    };
  });
  for (const m of mounts)
    if (c.mounts.some((x) => x.destination === m.destination))
      fail(`mounts ${m.destination}, where the config mounts something else`);

  for (const h of e.hooks)
    try {
      accessSync(h.path, constants.X_OK);
    } catch {
      fail(`its ${h.hookName} hook ${h.path} is not an executable program on this host`);
    }

  return {
    env: e.env,
    devices,
    mounts,
    hooks: e.hooks,
    additionalGids: e.additionalGids,
  };
}
