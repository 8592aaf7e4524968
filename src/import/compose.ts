/**
 * compose.yaml -> railyard config (pure). Reads the common service keys, interpolates variables
 * as compose does, and names in `warnings` every key or value it leaves out or changes. Problems
 * (a value that cannot mean anything) are collected with their paths and thrown once.
 */
import { isRecord } from "../util/record.js";
import { basename, isAbsolute, posix } from "node:path";
import { IMAGE_CAPABILITIES } from "../model/capabilities.js";
import { checkProjectName } from "../config/resolve/index.js";
import { formatPath } from "../config/resolve/problems.js";
import { BUILTIN_NETWORKS, joinedOwner } from "../model/network.js";
import {
  checkName,
  parseCapability,
  parseDuration,
  parsePorts,
  formatPorts,
  type PortSpec,
  parseSize,
} from "../model/parse.js";
import type {
  ContainerConfig,
  HealthcheckConfig,
  NetworkConfig,
  RestartPolicy,
  SecretConfig,
  UserConfig,
} from "../model/types.js";
import { ConfigError, type ConfigProblem } from "../errors.js";
import { interpolate, shellSplit, type Env } from "./interpolate.js";

export interface ImportContext {
  /** The compose file, for messages. */
  readonly file: string;
  /** The project directory: relative paths (volumes, env_file) resolve against it. */
  readonly dir: string;
  /** Variables for interpolation: the environment over the project's `.env`. */
  readonly env: Env;
  /** Where named volumes become host directories. */
  readonly volumesDir: string;
}

export interface ImportResult {
  readonly config: UserConfig;
  /** One line per key or value left out or changed, with its compose path. */
  readonly warnings: readonly string[];
}

/** docker's default capability set: what a compose service without cap_add/cap_drop holds. */
export const DOCKER_CAPABILITIES = [
  "CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
  "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
  "CAP_SETUID", "CAP_SYS_CHROOT",
]; // prettier-ignore

type Path = (string | number)[];
type Obj = Record<string, unknown>;

/** Top-level keys that carry nothing a container needs. */
const QUIET_TOP = new Set(["version", "name", "services", "volumes", "networks", "secrets"]);

class Reader {
  readonly problems: ConfigProblem[] = [];
  readonly warnings: string[] = [];
  constructor(readonly ctx: ImportContext) {}
  problem(path: Path, message: string): void {
    this.problems.push({ path: formatPath(path), message });
  }
  warn(path: Path, message: string): void {
    this.warnings.push(`${formatPath(path)}: ${message}`);
  }
  /** A scalar as a string (YAML gives numbers for `user: 1000`), else a problem. */
  string(v: unknown, path: Path): string | undefined {
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    this.problem(path, `expected a string, got ${describe(v)}`);
    return undefined;
  }
  strings(v: unknown, path: Path): string[] {
    if (!Array.isArray(v)) {
      this.problem(path, `expected a list, got ${describe(v)}`);
      return [];
    }
    return v.flatMap((x, i) => this.string(x, [...path, i]) ?? []);
  }
  /** `command:`/`entrypoint:` forms: a list, or a string split into words as compose does. */
  argv(v: unknown, path: Path): string[] | undefined {
    if (typeof v === "string") {
      const words = shellSplit(v);
      if (!words) this.problem(path, `${JSON.stringify(v)} has a quote that is not closed`);
      return words;
    }
    return this.strings(v, path);
  }
  /** `environment:`/`labels:` forms: a map, or a list of "KEY=value". */
  map(
    v: unknown,
    path: Path,
    bare: (key: string, at: Path) => string | undefined,
  ): Record<string, string> {
    const out: Record<string, string> = {};
    if (Array.isArray(v))
      v.forEach((item, i) => {
        const s = this.string(item, [...path, i]);
        if (s === undefined) return;
        const eq = s.indexOf("=");
        if (eq === -1) {
          const value = bare(s, [...path, i]);
          if (value !== undefined) out[s] = value;
        } else out[s.slice(0, eq)] = s.slice(eq + 1);
      });
    else if (isRecord(v))
      for (const [k, x] of Object.entries(v)) {
        if (x === null || x === undefined) {
          const value = bare(k, [...path, k]);
          if (value !== undefined) out[k] = value;
        } else {
          const s = this.string(x, [...path, k]);
          if (s !== undefined) out[k] = s;
        }
      }
    else this.problem(path, `expected a map or a list of "KEY=value", got ${describe(v)}`);
    return out;
  }
  /** A bare `KEY` (environment, build args): its value from the environment, and a warning. */
  fromEnv(k: string, p: Path): string | undefined {
    const v = this.ctx.env[k];
    if (v === undefined)
      this.warn(p, `${k} takes its value from the environment, where it is not set; left out`);
    else
      this.warn(
        p,
        `${k} takes its value from the environment; its current value is written into the config`,
      );
    return v;
  }
  /** A host path from the project: relative ones resolve against its directory. */
  hostPath(p: string): string {
    return isAbsolute(p) ? posix.normalize(p) : posix.join(this.ctx.dir, p);
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  return typeof v === "object" ? kindOf(v) : `the ${typeof v} ${JSON.stringify(v)}`;
}

/** What kind of value v is, never the value: for a whole file, which may be anything (a secret). */
function kindOf(v: unknown): string {
  if (v === null || v === undefined) return "an empty document";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "a map" : `a ${typeof v}`;
}

/** Every string value of the document interpolated; keys are left alone, as compose does. */
function interpolateAll(v: unknown, r: Reader, path: Path): unknown {
  if (typeof v === "string") {
    const i = interpolate(v, r.ctx.env);
    if (i.error) r.problem(path, i.error);
    for (const name of i.unset)
      r.warn(path, `the variable ${name} is not set; it was replaced by ""`);
    return i.value;
  }
  if (Array.isArray(v)) return v.map((x, k) => interpolateAll(x, r, [...path, k]));
  if (isRecord(v))
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, interpolateAll(x, r, [...path, k])]),
    );
  return v;
}

export function fromCompose(doc: unknown, ctx: ImportContext): ImportResult {
  const r = new Reader(ctx);
  if (!isRecord(doc))
    throw new ConfigError(ctx.file, [
      {
        path: "",
        message: `expected a compose file (a map with "services"), got ${kindOf(doc)}`,
      },
    ]);
  const top = interpolateAll(doc, r, []) as Obj;
  for (const k of Object.keys(top))
    if (!QUIET_TOP.has(k)) r.warn([k], "is not imported; railyard has no such setting");
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
        .filter(([, s]) => isRecord(s) && s["image"] !== undefined)
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
      ...(project !== undefined ? { project } : {}),
      ...(Object.keys(networks).length > 0 ? { networks } : {}),
      ...(Object.keys(secrets).length > 0 ? { secrets } : {}),
      containers,
    },
    warnings: r.warnings,
  };
}

/**
 * Ports on IPv6 addresses that railyard cannot publish as compose would are left out, each
 * named: UDP on [::1] (railyard proxies [::1] over TCP), and any other IPv6 address on a network
 * without enable_ipv6 (docker proxies it to IPv4 in a process; railyard's kernel forwarding
 * needs an IPv6 address in the container).
 */
function ipv6Ports(
  name: string,
  c: ContainerConfig,
  networks: Readonly<Record<string, NetworkConfig>>,
  r: Reader,
): void {
  if (!c.ports) return;
  const first = Array.isArray(c.networks)
    ? c.networks[0]
    : c.networks
      ? Object.keys(c.networks)[0]
      : c.network;
  const dual = first !== undefined && networks[first]?.ipv6 !== undefined;
  c.ports = c.ports.filter((spec, i) => {
    const ip = /^\[([^\]]+)\]/.exec(spec)?.[1];
    if (ip === undefined) return true;
    const why =
      ip === "::1" && spec.endsWith("/udp")
        ? "UDP on [::1] is not published (railyard proxies [::1] over TCP); publish it on 127.0.0.1"
        : ip !== "::1" && !dual
          ? `publishing on [${ip}] needs an IPv6 network: set enable_ipv6: true on ${first ?? "the service's network"}`
          : undefined;
    if (why !== undefined)
      r.warn(["services", name, "ports", i], `${JSON.stringify(spec)}: ${why}; left out`);
    return why === undefined;
  });
  if (c.ports.length === 0) delete c.ports;
}

/**
 * Top-level `secrets`: a `file` source as it is; an `environment` source becomes a file the user
 * is told to create (railyard never copies a value into a config); swarm's `external` has no
 * equivalent.
 */
function declaredSecrets(v: unknown, r: Reader): Record<string, SecretConfig> {
  const out: Record<string, SecretConfig> = {};
  if (v === undefined) return out;
  if (!isRecord(v)) {
    r.problem(["secrets"], `expected a map of secrets, got ${describe(v)}`);
    return out;
  }
  for (const [name, d] of Object.entries(v)) {
    const at: Path = ["secrets", name];
    if (!isRecord(d)) {
      r.problem(at, `expected a map with file or environment, got ${describe(d)}`);
      continue;
    }
    if (typeof d["file"] === "string") out[name] = { file: r.hostPath(d["file"]) };
    else if (typeof d["environment"] === "string") {
      const file = r.hostPath(posix.join("secrets", name));
      out[name] = { file };
      r.warn(
        [...at, "environment"],
        `comes from the variable ${d["environment"]}; railyard reads secrets from files: write its value to ${file} (mode 0600)`,
      );
    } else
      r.warn(
        at,
        `${d["external"] === true ? "external (swarm) secrets are" : "a secret without file or environment is"} not imported; services that use it will fail to load until you add it under secrets`,
      );
  }
  return out;
}

/** A compose `mode`: YAML may give "0440" as the number 440, so octal-looking digits are octal. */
function secretMode(v: unknown, path: Path, r: Reader): number | undefined {
  if (typeof v === "number")
    return /^[0-7]{1,4}$/.test(String(v)) && v > 7 ? parseInt(String(v), 8) : v;
  const s = r.string(v, path);
  if (s !== undefined && /^0?[0-7]{1,3}$/.test(s)) return parseInt(s, 8);
  if (s !== undefined)
    r.problem(path, `${JSON.stringify(s)} is not an octal file mode such as "0440"`);
  return undefined;
}

/** A service's `secrets`: names, or compose's long syntax (uid and gid are strings there). */
function serviceSecrets(
  v: unknown,
  path: Path,
  r: Reader,
): NonNullable<ContainerConfig["secrets"]> {
  if (!Array.isArray(v)) {
    r.problem(path, `expected a list, got ${describe(v)}`);
    return [];
  }
  return v.flatMap((item: unknown, i): NonNullable<ContainerConfig["secrets"]> => {
    const at = [...path, i];
    if (typeof item === "string") return [item];
    if (!isRecord(item) || typeof item["source"] !== "string") {
      r.problem(at, `expected a secret name or a map with source, got ${describe(item)}`);
      return [];
    }
    const id = (k: "uid" | "gid") => {
      const x = item[k];
      if (x === undefined) return undefined;
      const n = Number(x);
      if (!Number.isInteger(n) || n < 0)
        r.problem([...at, k], `expected a numeric id, got ${describe(x)}`);
      return Number.isInteger(n) && n >= 0 ? n : undefined;
    };
    const uid = id("uid");
    const gid = id("gid");
    const mode =
      item["mode"] === undefined ? undefined : secretMode(item["mode"], [...at, "mode"], r);
    const target =
      item["target"] === undefined ? undefined : r.string(item["target"], [...at, "target"]);
    return [
      {
        source: item["source"],
        ...(target !== undefined ? { target } : {}),
        ...(uid !== undefined ? { uid } : {}),
        ...(gid !== undefined ? { gid } : {}),
        ...(mode !== undefined ? { mode } : {}),
      },
    ];
  });
}

/** A compose network's name as railyard's (1 to 12 of a-z, 0-9, "-", "_"). */
function networkName(name: string): string {
  const n = name
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "-")
    .replace(/^[-_]+/, "");
  return (n || "net").slice(0, 12);
}

/**
 * The compose project's name, as compose picks it: the top-level `name`, else
 * COMPOSE_PROJECT_NAME (the environment, or .env), else the project directory's name, lowercased
 * with what a project name cannot hold left out. railyard prefixes units and runtime ids with it,
 * as compose prefixes its containers, so two projects that each have a `db` run side by side.
 */
function projectName(given: unknown, ctx: ImportContext, r: Reader): string | undefined {
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

/**
 * The network of one service: network_mode "host" and "none" as they are, "service:X" and
 * "container:X" as "container:X" (joining X's namespace); otherwise the compose networks it
 * joins (`networks`, with their aliases, where there are several or aliases), or compose's
 * implicit "default" network that every service without `networks` shares, so that services
 * still reach each other by name. "private-NAME", the way railyard exports network "private",
 * reads back as "private".
 */
function serviceNetwork(
  s: Obj,
  at: Path,
  r: Reader,
): Pick<ContainerConfig, "network" | "networks"> {
  const mode = s["network_mode"];
  if (mode === "host" || mode === "none") return { network: mode };
  // The VPN-sidecar pattern: join another service's (or container's) network namespace.
  const joined =
    typeof mode === "string" ? /^(?:service|container):(.+)$/.exec(mode)?.[1] : undefined;
  if (joined !== undefined) return { network: `container:${joined}` };
  if (mode !== undefined) {
    r.warn(
      [...at, "network_mode"],
      `${JSON.stringify(mode)} is not imported; the container gets network "private" (its own, reachable only through its published ports)`,
    );
    return { network: "private" };
  }
  const nets = s["networks"];
  if (nets === undefined) return { network: "default" };
  if (!Array.isArray(nets) && !isRecord(nets)) {
    r.problem([...at, "networks"], `expected a list or a map of networks, got ${describe(nets)}`);
    return { network: "default" };
  }
  const given: [string, string[]][] = Array.isArray(nets)
    ? r.strings(nets, [...at, "networks"]).map((n) => [n, []])
    : Object.entries(nets).map(([n, v]) => [n, attachmentAliases(v, [...at, "networks", n], r)]);
  const first = given[0]?.[0];
  if (first === undefined) return { network: "default" };
  // railyard export's form of network "private": a network of the service's own.
  if (given.length === 1 && first === `private-${String(at[at.length - 1])}`)
    return { network: "private" };
  for (const [n] of given)
    if (networkName(n) !== n)
      r.warn([...at, "networks", n], `${n} becomes ${networkName(n)}, a name railyard accepts`);
  if (given.length === 1 && given[0]?.[1].length === 0) return { network: networkName(first) };
  return Array.isArray(nets)
    ? { networks: given.map(([n]) => networkName(n)) }
    : {
        networks: Object.fromEntries(
          given.map(([n, aliases]) => [networkName(n), aliases.length > 0 ? { aliases } : {}]),
        ),
      };
}

/** A service's aliases on one network (`networks: {NET: {aliases: [...]}}`); the rest is named. */
function attachmentAliases(v: unknown, path: Path, r: Reader): string[] {
  if (v === null || v === undefined) return [];
  if (!isRecord(v)) {
    r.problem(path, `expected a map or nothing, got ${describe(v)}`);
    return [];
  }
  const left = Object.keys(v).filter((k) => k !== "aliases");
  if (left.length > 0)
    r.warn(
      path,
      `${left.join(", ")} not imported; railyard gives each member an address of its own choosing`,
    );
  return v["aliases"] === undefined ? [] : r.strings(v["aliases"], [...path, "aliases"]);
}

/** The networks the imported containers join, with the subnets compose's ipam gives them. */
function declaredNetworks(
  raw: unknown,
  containers: Readonly<Record<string, ContainerConfig>>,
  r: Reader,
): Record<string, NetworkConfig> {
  const top = isRecord(raw) ? raw : {};
  const used = new Set(
    Object.values(containers).flatMap((c) =>
      c.networks === undefined
        ? [c.network ?? ""]
        : Array.isArray(c.networks)
          ? c.networks
          : Object.keys(c.networks),
    ),
  );
  const out: Record<string, NetworkConfig> = {};
  const byName = new Map(Object.keys(top).map((n) => [networkName(n), n]));
  const declared = (n: string) =>
    n !== "" && !BUILTIN_NETWORKS.includes(n) && joinedOwner({ network: n }) === undefined;
  for (const name of [...used].filter(declared).sort()) {
    const composeName = byName.get(name) ?? name;
    const def = top[composeName];
    const net: NetworkConfig = {};
    if (isRecord(def)) {
      const path: Path = ["networks", composeName];
      const cfg = isRecord(def["ipam"]) ? def["ipam"]["config"] : undefined;
      // An IPv4 subnet and, on a network with enable_ipv6, an IPv6 one.
      const subnets = (Array.isArray(cfg) ? cfg : [])
        .map((c) => (isRecord(c) ? c["subnet"] : undefined))
        .filter((x): x is string => typeof x === "string");
      const v4 = subnets.find((x) => !x.includes(":"));
      const v6 = subnets.find((x) => x.includes(":"));
      if (v4 !== undefined) net.subnet = v4;
      if (def["enable_ipv6"] === true) net.ipv6 = v6 ?? true;
      const left = Object.keys(def).filter(
        (k) => k !== "ipam" && k !== "enable_ipv6" && !(k === "driver" && def[k] === "bridge"),
      );
      if (left.length > 0)
        r.warn(path, `${left.join(", ")} not imported; railyard's networks are bridges of its own`);
    }
    out[name] = net;
  }
  return out;
}

const RESTART: Record<string, RestartPolicy> = {
  no: "no",
  always: "always",
  "unless-stopped": "always",
  "on-failure": "on-failure",
};

/** The keys `service` reads; any other is named in a warning. */
const HANDLED = new Set([
  "image", "build", "command", "entrypoint", "environment", "env_file", "volumes", "tmpfs", "ports",
  "healthcheck", "user", "working_dir", "hostname", "read_only", "depends_on", "pull_policy",
  "labels", "cap_add", "cap_drop", "devices", "restart", "stop_signal", "stop_grace_period",
  "network_mode", "networks", "mem_limit", "cpus", "pids_limit", "deploy", "security_opt",
  "init", "sysctls", "secrets", "gpus",
]); // prettier-ignore

function service(
  s: Obj,
  at: Path,
  r: Reader,
  kept: ReadonlySet<string>,
  checked: ReadonlySet<string>,
): ContainerConfig {
  const c: ContainerConfig = {};
  const put = <K extends keyof ContainerConfig>(k: K, v: ContainerConfig[K] | undefined) => {
    if (v !== undefined) c[k] = v;
  };
  const key = (k: string): Path => [...at, k];
  for (const k of Object.keys(s))
    if (!HANDLED.has(k)) r.warn(key(k), "is not imported; railyard has no such setting");

  // With build, image names what is built (as compose tags it); without, it is pulled.
  if (s["image"] !== undefined) c.image = r.string(s["image"], key("image")) ?? "";
  if (s["build"] !== undefined) {
    const b = build(s["build"], key("build"), r);
    if (b) c.build = b;
  }
  const pull = s["pull_policy"];
  if (pull !== undefined) {
    const p = r.string(pull, key("pull_policy"));
    const map: Record<string, ContainerConfig["pull"]> = {
      always: "always",
      never: "never",
      missing: "missing",
      if_not_present: "missing",
    };
    if (p !== undefined && map[p]) c.pull = map[p];
    else if (p !== undefined)
      r.warn(
        key("pull_policy"),
        `${JSON.stringify(p)} is not imported; railyard pulls what is missing`,
      );
  }
  if (s["entrypoint"] !== undefined) put("entrypoint", r.argv(s["entrypoint"], key("entrypoint")));
  if (s["secrets"] !== undefined) put("secrets", serviceSecrets(s["secrets"], key("secrets"), r));
  if (s["command"] !== undefined) put("cmd", r.argv(s["command"], key("command")));

  if (s["environment"] !== undefined) {
    const env = r.map(s["environment"], key("environment"), (k, p) => r.fromEnv(k, p));
    if (Object.keys(env).length > 0) c.environment = env;
  }
  if (s["env_file"] !== undefined) {
    const v = s["env_file"];
    const items = typeof v === "string" ? [v] : Array.isArray(v) ? v : [];
    if (items.length === 0 && typeof v !== "string")
      r.problem(key("env_file"), `expected a path or a list, got ${describe(v)}`);
    c.environmentFiles = items.flatMap((item, i) => {
      const p: Path = [...key("env_file"), i];
      if (isRecord(item)) {
        if (item["required"] === false)
          r.warn(p, "required: false is not imported; railyard needs the file at build time");
        const f = r.string(item["path"], [...p, "path"]);
        return f === undefined ? [] : [r.hostPath(f)];
      }
      const f = r.string(item, p);
      return f === undefined ? [] : [r.hostPath(f)];
    });
  }

  volumes(s, at, r, c);
  if (s["tmpfs"] !== undefined) {
    const t = s["tmpfs"];
    c.tmpfs = [...(c.tmpfs ?? []), ...(typeof t === "string" ? [t] : r.strings(t, key("tmpfs")))];
  }
  ports(s["ports"], key("ports"), r, c);

  const hc = s["healthcheck"];
  if (hc !== undefined) {
    const h = healthcheck(hc, key("healthcheck"), r);
    if (h) c.healthcheck = h;
  }
  if (s["user"] !== undefined) put("user", r.string(s["user"], key("user")));
  if (s["working_dir"] !== undefined)
    put("workdir", r.string(s["working_dir"], key("working_dir")));
  if (s["hostname"] !== undefined) put("hostname", r.string(s["hostname"], key("hostname")));
  // Compose's root filesystem is writable unless read_only says so, as an image's is in railyard.
  if (s["read_only"] === true) c.readonly = true;
  if (s["read_only"] !== undefined && typeof s["read_only"] !== "boolean")
    r.problem(key("read_only"), `expected true or false, got ${describe(s["read_only"])}`);
  if (s["init"] === true) c.init = true;
  if (s["init"] !== undefined && typeof s["init"] !== "boolean")
    r.problem(key("init"), `expected true or false, got ${describe(s["init"])}`);
  sysctls(s["sysctls"], key("sysctls"), r, c);

  const deps = s["depends_on"];
  if (deps !== undefined) {
    const names = Array.isArray(deps)
      ? r.strings(deps, key("depends_on"))
      : isRecord(deps)
        ? Object.keys(deps)
        : [];
    if (!Array.isArray(deps) && !isRecord(deps))
      r.problem(key("depends_on"), `expected a list or a map, got ${describe(deps)}`);
    if (isRecord(deps))
      for (const [d, v] of Object.entries(deps)) {
        const cond = isRecord(v) ? v["condition"] : undefined;
        // railyard's units wait for a dependency's first passing check whenever it has one.
        if (cond === "service_healthy" && !checked.has(d))
          r.warn(
            [...key("depends_on"), d],
            `condition service_healthy: ${d} has no healthcheck here, so railyard waits only for it to start`,
          );
        else if (cond !== undefined && cond !== "service_started" && cond !== "service_healthy")
          r.warn(
            [...key("depends_on"), d],
            `condition ${String(cond)} is not imported; railyard starts ${d} first, without waiting for more`,
          );
      }
    c.dependsOn = names.filter((d) => {
      if (kept.has(d)) return true;
      r.warn(key("depends_on"), `${d} was not imported; the dependency is dropped`);
      return false;
    });
  }
  if (s["labels"] !== undefined) {
    const labels = r.map(s["labels"], key("labels"), (k, p) => {
      r.warn(p, `the label ${k} has no value; written as ""`);
      return "";
    });
    if (Object.keys(labels).length > 0) c.labels = labels;
  }
  capabilities(s, at, r, c);
  if (s["devices"] !== undefined) {
    const d = s["devices"];
    c.devices = Array.isArray(d)
      ? d.flatMap((x, i) => {
          if (!isRecord(x)) return r.string(x, [...key("devices"), i]) ?? [];
          const src = r.string(x["source"], [...key("devices"), i, "source"]);
          const dst =
            x["target"] === undefined
              ? src
              : r.string(x["target"], [...key("devices"), i, "target"]);
          const perm =
            x["permissions"] === undefined
              ? "rwm"
              : r.string(x["permissions"], [...key("devices"), i, "permissions"]);
          return src === undefined ? [] : [`${src}:${dst}:${perm}`];
        })
      : r.strings(d, key("devices"));
  }

  const restart = s["restart"];
  if (restart !== undefined) {
    const v = r.string(restart, key("restart")) ?? "";
    const [policy = "", max] = v.split(":");
    const mapped = RESTART[policy];
    if (!mapped)
      r.problem(
        key("restart"),
        `${JSON.stringify(v)} is not a restart policy. expected "no", "always", "on-failure[:max]" or "unless-stopped"`,
      );
    else c.restart = mapped;
    if (policy === "unless-stopped")
      r.warn(
        key("restart"),
        '"unless-stopped" becomes "always": a service stopped by hand starts again at boot',
      );
    if (max !== undefined && mapped)
      r.warn(
        key("restart"),
        `the limit of ${max} retries is not imported; systemd restarts without a count`,
      );
  }
  if (s["stop_signal"] !== undefined)
    put("stopSignal", r.string(s["stop_signal"], key("stop_signal")));
  if (s["stop_grace_period"] !== undefined) {
    const v = s["stop_grace_period"];
    const d = typeof v === "number" || typeof v === "string" ? parseDuration(v) : undefined;
    if (!d?.ok)
      r.problem(key("stop_grace_period"), d ? d.error : `expected a duration, got ${describe(v)}`);
    else {
      c.stopTimeout = Math.ceil(d.value / 1000);
      if (c.stopTimeout * 1000 !== d.value)
        r.warn(
          key("stop_grace_period"),
          `${String(v)} becomes ${c.stopTimeout} s; stopTimeout counts whole seconds`,
        );
    }
  }

  Object.assign(c, serviceNetwork(s, at, r));
  const secOpts = s["security_opt"];
  if (secOpts !== undefined)
    r.strings(secOpts, key("security_opt")).forEach((o, i) => {
      const seccomp = /^seccomp[=:](.+)$/.exec(o)?.[1];
      if (seccomp !== undefined)
        c.seccomp = seccomp === "unconfined" ? seccomp : r.hostPath(seccomp);
      else if (!/^no-new-privileges(:true)?$/.test(o))
        r.warn(
          [...key("security_opt"), i],
          `${JSON.stringify(o)} is not imported; railyard always sets no_new_privileges and runc's defaults`,
        );
    });
  resources(s, at, r, c);
  gpus(s, at, r, c);
  return c;
}

function volumes(s: Obj, at: Path, r: Reader, c: ContainerConfig): void {
  const v = s["volumes"];
  if (v === undefined) return;
  const path = [...at, "volumes"];
  if (!Array.isArray(v)) return r.problem(path, `expected a list, got ${describe(v)}`);
  const binds: string[] = [];
  const tmpfs: string[] = [];
  const named = (name: string) => posix.join(r.ctx.volumesDir, name);
  v.forEach((item, i) => {
    const p = [...path, i];
    if (isRecord(item)) {
      const type = item["type"];
      const target = r.string(item["target"], [...p, "target"]);
      if (target === undefined) return;
      const ro = item["read_only"] === true ? ":ro" : "";
      if (type === "tmpfs") {
        const t = isRecord(item["tmpfs"]) ? item["tmpfs"] : {};
        const opts = [
          ...(t["size"] !== undefined ? [`size=${String(t["size"])}`] : []),
          ...(t["mode"] !== undefined ? [`mode=${String(t["mode"])}`] : []),
        ];
        tmpfs.push(opts.length > 0 ? `${target}:${opts.join(",")}` : target);
      } else if (type === "bind" || type === "volume") {
        const src =
          item["source"] === undefined ? undefined : r.string(item["source"], [...p, "source"]);
        const host =
          type === "bind"
            ? src === undefined
              ? undefined
              : r.hostPath(src)
            : named(src ?? anonymous(at, target));
        if (host === undefined) return r.problem([...p, "source"], "is required for a bind mount");
        if (type === "volume")
          r.warn(p, `the ${src ? "named" : "anonymous"} volume becomes the host directory ${host}`);
        for (const extra of ["bind", "volume", "consistency"])
          if (item[extra] !== undefined) r.warn([...p, extra], "is not imported");
        binds.push(`${host}:${target}${ro}`);
      } else r.warn(p, `a ${String(type)} mount is not imported`);
      return;
    }
    const spec = r.string(item, p);
    if (spec === undefined) return;
    const [src = "", dst, mode, ...rest] = spec.split(":");
    if (rest.length > 0)
      return r.problem(
        p,
        `${JSON.stringify(spec)} is not a volume. expected "source:target[:mode]"`,
      );
    if (dst === undefined) {
      const host = named(anonymous(at, src));
      r.warn(p, `the anonymous volume becomes the host directory ${host}`);
      return void binds.push(`${host}:${src}`);
    }
    const isPath = src.startsWith("/") || src.startsWith(".") || src.startsWith("~");
    if (src.startsWith("~")) r.warn(p, `~ is not expanded; use an absolute path`);
    const host = isPath ? r.hostPath(src) : named(src);
    if (!isPath) r.warn(p, `the named volume ${src} becomes the host directory ${host}`);
    const opts = (mode ?? "").split(",").filter((o) => o !== "");
    for (const o of opts)
      if (!["ro", "rw"].includes(o)) r.warn(p, `the option ${o} is not imported`);
    binds.push(`${host}:${dst}${opts.includes("ro") ? ":ro" : ""}`);
  });
  if (binds.length > 0) c.volumes = binds;
  if (tmpfs.length > 0) c.tmpfs = [...tmpfs, ...(c.tmpfs ?? [])];
}

const anonymous = (at: Path, target: string) =>
  `${String(at[1])}${target.replace(/[^A-Za-z0-9_.-]+/g, "-")}`;

function ports(v: unknown, path: Path, r: Reader, c: ContainerConfig): void {
  if (v === undefined) return;
  if (!Array.isArray(v)) return r.problem(path, `expected a list, got ${describe(v)}`);
  const out: string[] = [];
  v.forEach((item, i) => {
    const p = [...path, i];
    let spec: string | undefined;
    if (isRecord(item)) {
      const target = item["target"];
      const published = item["published"];
      const ip = item["host_ip"];
      const proto = item["protocol"] ?? "tcp";
      spec = `${ip !== undefined ? `${String(ip).includes(":") ? `[${String(ip)}]` : String(ip)}:` : ""}${published !== undefined ? `${String(published)}:` : ""}${String(target)}/${String(proto)}`;
      if (item["mode"] !== undefined && item["mode"] !== "host")
        r.warn([...p, "mode"], "is not imported");
    } else spec = r.string(item, p);
    if (spec === undefined) return;
    // "ip::80" and "80" ask compose for a random host port; railyard publishes the same number.
    const fixed = spec.replace(/::(?=\d+(?:-\d+)?(?:\/\w+)?$)/, ":");
    const parsed = parsePorts(fixed.replace(/\/tcp$/, ""));
    if (!parsed.ok) return r.problem(p, parsed.error);
    const first = parsed.value[0] as PortSpec;
    if (first.hostPort === undefined)
      r.warn(
        p,
        `${JSON.stringify(spec)} asks for a random host port; railyard publishes ${parsed.value.length > 1 ? "the same numbers" : first.containerPort}`,
      );
    // Compose publishes a port without an address on every address; railyard would not.
    if (first.hostIp === undefined)
      r.warn(
        p,
        `${JSON.stringify(spec)} is published on every address (0.0.0.0), as compose does, which bypasses the host firewall; write 127.0.0.1 to keep it local`,
      );
    out.push(...formatPorts(parsed.value.map((q) => ({ hostIp: "0.0.0.0", ...q }))));
  });
  if (out.length > 0) c.ports = out;
}

function healthcheck(v: unknown, path: Path, r: Reader): HealthcheckConfig | undefined {
  if (!isRecord(v)) {
    r.problem(path, `expected a map, got ${describe(v)}`);
    return undefined;
  }
  if (v["disable"] === true) return undefined;
  const t = v["test"];
  let test: string | string[] | undefined;
  if (typeof t === "string") test = t;
  else if (Array.isArray(t)) {
    const [kind, ...rest] = r.strings(t, [...path, "test"]);
    if (kind === "NONE") return undefined;
    if (kind === "CMD") test = rest;
    else if (kind === "CMD-SHELL") test = rest.join(" ");
    else
      r.problem(
        [...path, "test"],
        `must start with "CMD", "CMD-SHELL" or "NONE", got ${JSON.stringify(kind)}`,
      );
  } else if (t === undefined) {
    r.warn(path, "has no test: the image's own HEALTHCHECK is not imported");
    return undefined;
  } else r.problem([...path, "test"], `expected a string or a list, got ${describe(t)}`);
  if (test === undefined) return undefined;
  const h: HealthcheckConfig = { test };
  const dur = (k: string, into: "interval" | "timeout" | "startPeriod") => {
    const d = v[k];
    if (d === undefined) return;
    if (typeof d === "string" || typeof d === "number") h[into] = d;
    else r.problem([...path, k], `expected a duration, got ${describe(d)}`);
  };
  dur("interval", "interval");
  dur("timeout", "timeout");
  dur("start_period", "startPeriod");
  if (v["retries"] !== undefined) {
    if (typeof v["retries"] === "number") h.retries = v["retries"];
    else r.problem([...path, "retries"], `expected a number, got ${describe(v["retries"])}`);
  }
  for (const k of Object.keys(v))
    if (!["test", "interval", "timeout", "start_period", "retries", "disable"].includes(k))
      r.warn([...path, k], "is not imported");
  return h;
}

function capabilities(s: Obj, at: Path, r: Reader, c: ContainerConfig): void {
  const read = (k: string) => {
    const v = s[k];
    if (v === undefined) return [];
    return r.strings(v, [...at, k]).flatMap((name, i) => {
      if (name.toUpperCase() === "ALL") return ["ALL"];
      const p = parseCapability(name);
      if (!p.ok) r.problem([...at, k, i], p.error);
      return p.ok ? [p.value] : [];
    });
  };
  const add = read("cap_add");
  const drop = read("cap_drop");
  if (add.includes("ALL")) r.warn([...at, "cap_add"], "ALL is not imported; name each capability");
  // compose means docker's set with cap_add and cap_drop applied; railyard's image containers
  // start from podman's, so the config names the difference (MKNOD, NET_RAW, AUDIT_WRITE).
  const wanted = new Set(drop.includes("ALL") ? [] : DOCKER_CAPABILITIES);
  for (const cap of drop) wanted.delete(cap);
  for (const cap of add) if (cap !== "ALL") wanted.add(cap);
  const caps: Record<string, boolean> = {};
  for (const cap of new Set([...IMAGE_CAPABILITIES, ...wanted]))
    if (wanted.has(cap) !== IMAGE_CAPABILITIES.includes(cap))
      caps[cap.replace(/^CAP_/, "")] = wanted.has(cap);
  if (Object.keys(caps).length > 0)
    c.capabilities = Object.fromEntries(Object.entries(caps).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** compose's sysctls: a map, or a list of "name=value". */
function sysctls(v: unknown, path: Path, r: Reader, c: ContainerConfig): void {
  if (v === undefined) return;
  const out: Record<string, string> = {};
  if (Array.isArray(v))
    r.strings(v, path).forEach((item, i) => {
      const eq = item.indexOf("=");
      if (eq <= 0) r.problem([...path, i], `${JSON.stringify(item)} is not "name=value"`);
      else out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
    });
  else if (isRecord(v))
    for (const [k, x] of Object.entries(v))
      if (typeof x === "string" || typeof x === "number") out[k] = String(x);
      else r.problem([...path, k], `expected a string or a number, got ${describe(x)}`);
  else return r.problem(path, `expected a map or a list, got ${describe(v)}`);
  if (Object.keys(out).length > 0) c.sysctls = out;
}

/** compose's `build:` (a context, or a map) as railyard's; what it cannot carry is named. */
function build(v: unknown, at: Path, r: Reader): ContainerConfig["build"] | undefined {
  const remote = (ctx: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(ctx) || ctx.startsWith("git@");
  if (typeof v === "string") {
    if (remote(v))
      return void r.problem(at, `${v} is a remote context; railyard builds from a directory`);
    return r.hostPath(v);
  }
  if (!isRecord(v))
    return void r.problem(at, `expected a context directory or a map, got ${describe(v)}`);
  for (const k of Object.keys(v))
    if (!["context", "dockerfile", "args", "target"].includes(k))
      r.warn(
        [...at, k],
        "is not imported; railyard builds with the context, dockerfile, args and target",
      );
  const context = v["context"] === undefined ? "." : r.string(v["context"], [...at, "context"]);
  if (context === undefined) return undefined;
  if (remote(context))
    return void r.problem(
      [...at, "context"],
      `${context} is a remote context; railyard builds from a directory`,
    );
  const out: NonNullable<Exclude<ContainerConfig["build"], string>> = {
    context: r.hostPath(context),
  };
  if (v["dockerfile"] !== undefined) {
    const f = r.string(v["dockerfile"], [...at, "dockerfile"]);
    if (f !== undefined) out.dockerfile = f;
  }
  if (v["args"] !== undefined) {
    const args = r.map(v["args"], [...at, "args"], (k, p) => r.fromEnv(k, p));
    if (Object.keys(args).length > 0) out.args = args;
  }
  if (v["target"] !== undefined) {
    const t = r.string(v["target"], [...at, "target"]);
    if (t !== undefined) out.target = t;
  }
  return out;
}

/**
 * Device requests (`deploy.resources.reservations.devices`, and `gpus`) as CDI device names:
 * `driver: cdi` names them itself; an NVIDIA GPU request becomes `nvidia.com/gpu=...`, the
 * names NVIDIA's `nvidia-ctk cdi generate` writes, which podman and docker use as well.
 */
function gpus(s: Obj, at: Path, r: Reader, c: ContainerConfig): void {
  const deploy = isRecord(s["deploy"]) ? s["deploy"] : undefined;
  const res = isRecord(deploy?.["resources"]) ? (deploy["resources"] as Obj) : undefined;
  const reserved = isRecord(res?.["reservations"]) ? (res["reservations"] as Obj) : undefined;
  const requests: { req: unknown; path: Path }[] = [];
  const list = (v: unknown, path: Path) => {
    if (v === undefined) return;
    if (!Array.isArray(v)) return r.problem(path, `expected a list, got ${describe(v)}`);
    v.forEach((req, i) => requests.push({ req, path: [...path, i] }));
  };
  list(reserved?.["devices"], [...at, "deploy", "resources", "reservations", "devices"]);
  if (s["gpus"] === "all")
    requests.push({ req: { driver: "nvidia", count: "all" }, path: [...at, "gpus"] });
  else list(s["gpus"], [...at, "gpus"]);
  const names: string[] = [];
  for (const { req, path } of requests) {
    if (!isRecord(req)) {
      r.problem(
        path,
        `expected a device request (driver, count, device_ids), got ${describe(req)}`,
      );
      continue;
    }
    for (const k of Object.keys(req))
      if (!["driver", "count", "device_ids", "capabilities", "options"].includes(k))
        r.warn([...path, k], "is not imported");
    const ids =
      req["device_ids"] === undefined ? [] : r.strings(req["device_ids"], [...path, "device_ids"]);
    const caps = (Array.isArray(req["capabilities"]) ? req["capabilities"] : []).flat();
    const driver = req["driver"] ?? (caps.includes("gpu") ? "nvidia" : undefined);
    if (driver === "cdi") {
      names.push(...ids);
      continue;
    }
    if (driver !== "nvidia") {
      r.warn(
        path,
        `a device request for driver ${JSON.stringify(driver ?? "(none)")} is not imported; name its CDI device in devices instead`,
      );
      continue;
    }
    const count = req["count"];
    if (ids.length > 0) names.push(...ids.map((id) => `nvidia.com/gpu=${id}`));
    else {
      if (count !== undefined && count !== "all" && count !== -1)
        r.warn(
          [...path, "count"],
          `a count of GPUs cannot be kept: every GPU is given (nvidia.com/gpu=all); list device_ids to choose`,
        );
      names.push("nvidia.com/gpu=all");
    }
    r.warn(
      path,
      "needs NVIDIA's CDI spec on the host: nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml",
    );
  }
  const fresh = [...new Set(names)].filter((n) => !(c.devices ?? []).includes(n));
  if (fresh.length > 0) c.devices = [...(c.devices ?? []), ...fresh];
}

function resources(s: Obj, at: Path, r: Reader, c: ContainerConfig): void {
  const res: NonNullable<ContainerConfig["resources"]> = {};
  const deploy = isRecord(s["deploy"]) ? s["deploy"] : undefined;
  const limits =
    deploy && isRecord(deploy["resources"]) && isRecord(deploy["resources"]["limits"])
      ? deploy["resources"]["limits"]
      : {};
  const unread = (path: Path, o: unknown, read: readonly string[]) => {
    if (isRecord(o))
      for (const k of Object.keys(o))
        if (!read.includes(k))
          r.warn([...path, k], "is not imported; railyard runs one replica with limits only");
  };
  unread([...at, "deploy"], deploy, ["resources"]);
  unread([...at, "deploy", "resources"], deploy?.["resources"], ["limits", "reservations"]);
  const reservations = isRecord(deploy?.["resources"])
    ? (deploy["resources"] as Obj)["reservations"]
    : undefined;
  unread([...at, "deploy", "resources", "reservations"], reservations, ["devices"]);
  unread([...at, "deploy", "resources", "limits"], limits, ["memory", "cpus", "pids"]);
  const memory = s["mem_limit"] ?? limits["memory"];
  if (memory !== undefined) {
    const p =
      typeof memory === "number" || typeof memory === "string" ? parseSize(memory) : undefined;
    if (!p?.ok)
      r.problem(
        [...at, s["mem_limit"] !== undefined ? "mem_limit" : "deploy"],
        p ? p.error : `expected a size, got ${describe(memory)}`,
      );
    else res.memory = memory as number | string;
  }
  const cpus = s["cpus"] ?? limits["cpus"];
  if (cpus !== undefined) {
    const n = Number(cpus);
    if (!(n > 0))
      r.problem(
        [...at, s["cpus"] !== undefined ? "cpus" : "deploy"],
        `expected a number of CPUs above 0, got ${describe(cpus)}`,
      );
    else res.cpus = n;
  }
  const pids = s["pids_limit"] ?? limits["pids"];
  if (pids !== undefined) {
    if (typeof pids === "number" && Number.isInteger(pids) && pids > 0) res.pids = pids;
    else if (pids !== -1 && pids !== 0)
      r.problem([...at, "pids_limit"], `expected a whole number above 0, got ${describe(pids)}`);
  }
  if (Object.keys(res).length > 0) c.resources = res;
}
