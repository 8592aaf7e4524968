import { posix } from "node:path";
import * as v from "valibot";
import { isRecord } from "../util/record.js";
import { ConfigError, type ConfigProblem } from "../errors.js";
import {
  checkAbsolutePath,
  checkName,
  cleanPath,
  normaliseArch,
  parseCapability,
  parseDevice,
  parseDuration,
  formatDuration,
  parseSignal,
  parseSize,
  parseTmpfs,
  parseUserSpec,
  parsePorts,
  parseVolume,
  TMPFS_DEFAULT_OPTIONS,
  formatPublished,
  publishedIp,
  publishedPort,
  type PortSpec,
} from "../model/parse.js";
import {
  formatSubnet,
  overlaps,
  overlaps6,
  parseSubnet,
  parseSubnet6,
  subnetSize,
  type Subnet,
  type Subnet6,
} from "../model/address.js";
import {
  BUILTIN_NETWORKS,
  isDualStack,
  joinedOwner,
  loopback6Ports,
  NAMED_DEFAULT_PREFIX,
  PRIVATE_POOL,
} from "../model/network.js";
import { formatReference, parseReference } from "../model/reference.js";
import { checkCdiName, DEFAULT_CDI_DIRS } from "../model/cdi.js";
import type {
  BuildConfig,
  ContainerConfig,
  HealthcheckConfig,
  ResolvedAttachment,
  ResolvedBuild,
  ResolvedNetwork,
  ResolvedHealthcheck,
  ResolvedSecretMount,
  ResolvedImage,
  ResolvedConfig,
  ResolvedContainer,
  ResolvedDevice,
  ResolvedMount,
  ResolvedUser,
  UserConfig,
} from "../model/types.js";

/** The host facts resolution depends on, passed in so that resolution stays pure. */
export interface ResolveContext {
  /** The config file, for messages. */
  readonly file: string;
  /** This host's architecture, OCI-style ("amd64"). */
  readonly hostArch: string;
  /** Look up a user name on the host: its uid and primary gid. */
  readonly lookupUser: (name: string) => { uid: number; gid: number } | undefined;
  /** Look up a group name on the host. */
  readonly lookupGroup: (name: string) => number | undefined;
  /** Reverse look-ups, for the names written into the container's /etc/passwd and /etc/group. */
  readonly userName: (uid: number) => string | undefined;
  readonly groupName: (gid: number) => string | undefined;
}

export const DEFAULT_STATE_DIR = "/var/lib/railyard";

const str = v.string();
const strList = v.array(str);
const strMap = v.record(v.string(), str);
const opt = v.optional;
const whole = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

const containerSchema = v.strictObject({
  args: opt(v.pipe(strList, v.minLength(1, "must name a program: it cannot be empty"))),
  closure: opt(v.picklist(["elf", "packages"])),
  include: opt(strList),
  image: opt(str),
  imageFile: opt(str),
  build: opt(
    v.union([
      str,
      v.strictObject({ context: str, dockerfile: opt(str), args: opt(strMap), target: opt(str) }),
    ]),
  ),
  cmd: opt(strList),
  entrypoint: opt(v.union([str, strList])),
  login: opt(v.strictObject({ registry: opt(str), username: str, passwordFile: str })),
  environment: opt(strMap),
  environmentFiles: opt(strList),
  secrets: opt(
    v.array(
      v.union([
        str,
        v.strictObject({
          source: str,
          target: opt(str),
          uid: opt(whole(0, 2 ** 32 - 2)),
          gid: opt(whole(0, 2 ** 32 - 2)),
          mode: opt(v.union([whole(0, 0o777), str])),
        }),
      ]),
    ),
  ),
  mounts: opt(
    v.record(v.string(), v.strictObject({ source: str, type: opt(str), options: opt(strList) })),
  ),
  volumes: opt(strList),
  tmpfs: opt(strList),
  ports: opt(strList),
  healthcheck: opt(
    v.strictObject({
      test: v.union([
        str,
        v.pipe(strList, v.minLength(1, "must name a program: it cannot be empty")),
      ]),
      interval: opt(v.union([v.number(), str])),
      timeout: opt(v.union([v.number(), str])),
      retries: opt(whole(1, 1000)),
      startPeriod: opt(v.union([v.number(), str])),
    }),
  ),
  user: opt(str),
  workdir: opt(str),
  hostname: opt(str),
  readonly: opt(v.boolean()),
  os: opt(str),
  arch: opt(str),
  dependsOn: opt(strList),
  autoStart: opt(v.boolean()),
  pull: opt(v.picklist(["missing", "always", "newer", "never"])),
  labels: opt(strMap),
  capabilities: opt(v.record(v.string(), v.boolean())),
  sysctls: opt(v.record(v.string(), v.union([str, v.number()]))),
  init: opt(v.boolean()),
  devices: opt(strList),
  restart: opt(
    v.picklist([
      "no",
      "always",
      "on-success",
      "on-failure",
      "on-abnormal",
      "on-abort",
      "on-watchdog",
    ]),
  ),
  stopSignal: opt(str),
  stopTimeout: opt(whole(0, 86400)),
  settle: opt(v.union([v.number(), str])),
  network: opt(str),
  networks: opt(
    v.union([strList, v.record(v.string(), v.strictObject({ aliases: opt(strList) }))]),
  ),
  seccomp: opt(str),
  resources: opt(
    v.strictObject({
      memory: opt(v.union([v.number(), str])),
      cpus: opt(v.pipe(v.number(), v.gtValue(0))),
      pids: opt(whole(1)),
    }),
  ),
  backend: opt(v.picklist(["oci", "docker", "podman"])),
  serviceName: opt(str),
});

const topSchema = v.strictObject({
  containers: opt(v.record(v.string(), v.unknown())),
  runtime: opt(v.picklist(["auto", "runc", "crun"])),
  stateDir: opt(str),
  backend: opt(v.picklist(["oci", "docker", "podman"])),
  registries: opt(v.record(v.string(), v.strictObject({ insecure: opt(v.boolean()) }))),
  networks: opt(
    v.record(
      v.string(),
      v.strictObject({ subnet: opt(str), ipv6: opt(v.union([v.boolean(), str])) }),
    ),
  ),
  secrets: opt(v.record(v.string(), v.strictObject({ file: opt(str), encrypted: opt(str) }))),
  onFailure: opt(
    v.union([str, v.pipe(strList, v.minLength(1, "must name a program: it cannot be empty"))]),
  ),
  cdiSpecDirs: opt(strList),
  project: opt(str),
});

// Compile-time guarantees that the schema and the documented types describe the same keys, and
// that every documented value is accepted by the schema.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameKeys: Same<keyof v.InferInput<typeof containerSchema>, keyof ContainerConfig> = true;
const accepts = (c: ContainerConfig): v.InferInput<typeof containerSchema> => c;
void sameKeys;
void accepts;

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

/** Key path as users write it: `containers.web.mounts./data.source`, `volumes[1]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/** valibot's names of expected types, as people say them. */
function typeName(expected: string): string {
  const names: Record<string, string> = {
    Array: "an array",
    Object: "an object",
    string: "a string",
    number: "a number",
    boolean: "a boolean",
  };
  const alts = expected.replace(/^\((.*)\)$/, "$1").split(" | ");
  return alts.map((t) => names[t] ?? article(t)).join(" or ");
}

function schemaProblems(
  issues: readonly v.BaseIssue<unknown>[],
  prefix: readonly PropertyKey[],
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path ?? []).map((p) => p.key as PropertyKey)];
    const at = formatPath(path);
    if (issue.type === "strict_object") {
      const key = String(issue.input);
      problems.push({ path: at, message: "unknown key" + hint(key, path.slice(0, -1)) });
    } else if (issue.type === "picklist")
      problems.push({
        path: at,
        message: `${describe(issue.input)} is not allowed. expected one of ${(issue.expected ?? "")
          .replace(/^\((.*)\)$/, "$1")
          .split(" | ")
          .join(", ")}`,
      });
    else if (issue.kind === "schema")
      problems.push({
        path: at,
        message: `must be ${typeName(issue.expected ?? "")}, got ${describe(issue.input)}`,
      });
    else if (issue.type === "integer")
      problems.push({ path: at, message: `must be a whole number, got ${describe(issue.input)}` });
    else if (issue.type === "min_length") problems.push({ path: at, message: issue.message });
    else
      problems.push({
        path: at,
        message: `must be ${issue.expected ?? "valid"}, got ${describe(issue.input)}`,
      });
  }
  return problems;
}

function article(t: string): string {
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

const KNOWN_KEYS = [...Object.keys(containerSchema.entries), ...Object.keys(topSchema.entries)];
function hint(key: string, path: readonly PropertyKey[]): string {
  const pool = path.length === 0 ? Object.keys(topSchema.entries) : KNOWN_KEYS;
  const near = pool.find(
    (k) =>
      k.toLowerCase() === key.toLowerCase() ||
      editDistance(k, key) <= Math.max(1, Math.floor(key.length / 3)),
  );
  return near ? ` (did you mean "${near}"?)` : "";
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  return (d[a.length] as number[])[b.length] ?? 0;
}

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
  // A project keeps its generations apart from every other project's.
  let stateDir =
    project === undefined || badProject
      ? DEFAULT_STATE_DIR
      : posix.join(DEFAULT_STATE_DIR, "projects", project);
  if (typeof raw.stateDir === "string") {
    const bad = checkAbsolutePath(raw.stateDir);
    if (bad) problems.push({ path: "stateDir", message: bad });
    else stateDir = raw.stateDir;
  }

  const cdiSpecDirs = [...((top.success ? top.output.cdiSpecDirs : undefined) ?? DEFAULT_CDI_DIRS)];
  cdiSpecDirs.forEach((d, i) => {
    const bad = checkAbsolutePath(d);
    if (bad) problems.push({ path: formatPath(["cdiSpecDirs", i]), message: bad });
  });

  const networks = top.success ? resolveNetworks(top.output.networks ?? {}, problems) : {};
  const secrets = top.success ? resolveSecrets(top.output.secrets ?? {}, problems) : {};
  if (typeof raw.onFailure === "string" && raw.onFailure.trim() === "")
    problems.push({ path: "onFailure", message: "must be a command: it cannot be empty" });
  const rawContainers = isRecord(raw.containers) ? raw.containers : {};
  const names = new Set(Object.keys(rawContainers));
  const containers: Record<string, ResolvedContainer> = {};
  for (const name of Object.keys(rawContainers).sort()) {
    const at = (...p: PropertyKey[]) => formatPath(["containers", name, ...p]);
    const badName = checkName(name);
    if (badName) problems.push({ path: at(), message: badName });
    const parsed = v.safeParse(containerSchema, rawContainers[name]);
    if (!parsed.success) {
      problems.push(...schemaProblems(parsed.issues, ["containers", name]));
      continue;
    }
    const c = resolveContainer(
      name,
      parsed.output as ContainerConfig,
      project,
      backend,
      names,
      new Set(Object.keys(networks)),
      new Set(Object.keys(top.success ? (top.output.secrets ?? {}) : {})),
      ctx,
      (path, message) => problems.push({ path: at(...path), message }),
    );
    if (c) containers[name] = c;
  }
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
  if (problems.length === 0) problems.push(...dependencyCycles(containers));
  problems.push(...networkProblems(networks, containers));
  problems.push(...joinedNetworkProblems(containers));

  if (problems.length > 0) throw new ConfigError(ctx.file, problems);

  return Object.freeze({
    file: ctx.file,
    containers: Object.freeze(containers),
    runtime: top.success ? (top.output.runtime ?? "auto") : "auto",
    stateDir,
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
  });
}

/** Why a project name is not one, or undefined: compose's rule, which also fits a unit name. */
export function checkProjectName(name: string): string | undefined {
  return /^[a-z0-9][a-z0-9_-]{0,31}$/.test(name)
    ? undefined
    : `${JSON.stringify(name)} is not a project name. expected 1 to 32 of a-z, 0-9, "-" and "_", starting with a letter or digit`;
}

type Report = (path: PropertyKey[], message: string) => void;

function resolveContainer(
  name: string,
  c: ContainerConfig,
  project: string | undefined,
  defaultBackend: ResolvedConfig["backend"],
  names: ReadonlySet<string>,
  declaredNetworks: ReadonlySet<string>,
  declaredSecrets: ReadonlySet<string>,
  ctx: ResolveContext,
  report: Report,
): ResolvedContainer | undefined {
  const before = { n: 0 };
  const r: Report = (p, m) => {
    before.n++;
    report(p, m);
  };

  let image: ResolvedImage | undefined;
  const isImage = c.image !== undefined || c.imageFile !== undefined || c.build !== undefined;
  if (isImage) {
    if (c.args !== undefined)
      r(
        ["args"],
        "cannot be combined with image, imageFile or build: override the image's program with entrypoint and cmd",
      );
    if (c.closure !== undefined)
      r(["closure"], "only applies to host programs (args), not to images");
    if (c.include !== undefined)
      r(["include"], "only applies to host programs (args), not to images");
    image = resolveImage(name, c, r, ctx.file);
  } else {
    if (c.args === undefined)
      r(
        ["args"],
        'is required: the host program to run, e.g. ["/bin/busybox", "echo", "hi"], or give an image',
      );
    if (c.entrypoint !== undefined)
      r(["entrypoint"], "only applies to images; for host programs set args");
    if (c.pull !== undefined) r(["pull"], "only applies to images");
    if (c.login !== undefined) r(["login"], "only applies to images");
  }
  c.args?.forEach((a, i) => {
    if (i === 0 && a === "")
      r(["args", 0], "must name a program (an absolute path or a name found on PATH)");
    if (a.includes("\0")) r(["args", i], "contains a NUL byte");
  });
  c.include?.forEach((p, i) => {
    const bad = checkAbsolutePath(p);
    if (bad) r(["include", i], bad);
  });

  const backend = c.backend ?? defaultBackend;
  if (backend !== "oci" && !isImage)
    r(
      ["backend"],
      `${JSON.stringify(backend)} runs images only. host programs (args) need backend "oci" (runc/crun run the bundle directly)`,
    );

  // Mounts from three sources; every destination must be unique.
  const mounts: ResolvedMount[] = [];
  for (const [key, m] of Object.entries(c.mounts ?? {})) {
    const dest = cleanPath(key);
    const badDest = checkAbsolutePath(dest);
    if (badDest) r(["mounts", key], `destination ${badDest}`);
    const type = m.type ?? "bind";
    const source = type === "bind" ? cleanPath(m.source) : m.source;
    if (type === "bind") {
      const bad = checkAbsolutePath(source);
      if (bad) r(["mounts", key, "source"], bad.replace(/^".*" must/, "must"));
    }
    mounts.push({
      destination: dest,
      type,
      source,
      options: m.options ?? (type === "bind" ? ["rbind", "rw"] : []),
      origin: formatPath(["mounts", key]),
    });
  }
  c.volumes?.forEach((v, i) => {
    const p = parseVolume(v);
    if (!p.ok) return r(["volumes", i], p.error);
    mounts.push({
      destination: p.value.destination,
      type: "bind",
      source: p.value.source,
      options: ["rbind", p.value.readonly ? "ro" : "rw"],
      origin: formatPath(["volumes", i]),
    });
  });
  c.tmpfs?.forEach((t, i) => {
    const p = parseTmpfs(t);
    if (!p.ok) return r(["tmpfs", i], p.error);
    mounts.push({
      destination: p.value.destination,
      type: "tmpfs",
      source: "tmpfs",
      options: [...TMPFS_DEFAULT_OPTIONS, ...p.value.options],
      origin: formatPath(["tmpfs", i]),
    });
  });
  const seen = new Map<string, string>();
  for (const m of mounts) {
    if (["/", "/proc", "/sys", "/dev"].includes(m.destination))
      r([m.origin], `cannot mount over ${m.destination}: the runtime manages it`);
    const prior = seen.get(m.destination);
    if (prior)
      r(
        [m.origin],
        `destination ${m.destination} is already mounted by ${prior}. each destination may be mounted once`,
      );
    else seen.set(m.destination, m.origin);
  }

  const ports: PortSpec[] = [];
  c.ports?.forEach((spec, i) => {
    const p = parsePorts(spec);
    if (!p.ok) r(["ports", i], p.error);
    else
      for (const port of p.value) {
        portOrigin.set(port, i);
        ports.push(port);
      }
  });
  const attachments = resolveAttachments(c, declaredNetworks, r);
  // Images are written for docker's and podman's default, a bridge with a way out: "private".
  // A host program keeps runc's loopback-only floor unless it publishes ports.
  const network =
    attachments[0]?.name ?? c.network ?? (isImage || c.ports?.length ? "private" : "none");
  const owner = joinedOwner({ network });
  if (owner !== undefined) {
    if (owner === name) r(["network"], "a container cannot join its own network namespace");
    else if (!names.has(owner))
      r(
        ["network"],
        `${JSON.stringify(owner)} is not a container in this config. expected "container:" and one of: ${[...names].filter((n) => n !== name).join(", ") || "(none)"}`,
      );
    if (ports.length > 0)
      r(
        ["ports"],
        `a container that joins ${owner}'s network namespace has no ports of its own: publish them on ${owner}`,
      );
  } else if (
    c.networks === undefined &&
    !BUILTIN_NETWORKS.includes(network) &&
    !declaredNetworks.has(network)
  )
    r(
      ["network"],
      `${JSON.stringify(network)} is not a network. expected "none", "host", "private", "container:NAME" or a network declared under networks` +
        (declaredNetworks.size > 0 ? ` (${[...declaredNetworks].sort().join(", ")})` : ""),
    );
  if (ports.length > 0 && (network === "host" || network === "none"))
    r(
      ["ports"],
      network === "host"
        ? `with network "host" the program listens on the host's ports itself. remove ports, or use network "private"`
        : `ports are published from a network of the container's own, and network "none" has only loopback. use network "private" or a named network`,
    );

  const healthcheck = c.healthcheck ? resolveHealthcheck(c.healthcheck, r) : undefined;
  const secrets = resolveContainerSecrets(c.secrets ?? [], declaredSecrets, backend, r);
  let settle: number | undefined;
  if (c.settle !== undefined) {
    const p = parseDuration(c.settle);
    if (!p.ok) r(["settle"], p.error);
    else if (p.value > 3_600_000) r(["settle"], "must be at most 1h");
    else settle = p.value;
  }
  const seccomp = c.seccomp ?? "default";
  if (seccomp !== "default" && seccomp !== "unconfined" && checkAbsolutePath(seccomp))
    r(
      ["seccomp"],
      `${JSON.stringify(seccomp)} is not a profile. expected "default", "unconfined" or the absolute path of a profile file`,
    );

  // Host programs resolve user names on the host now; images look them up in the image at build.
  let user: ResolvedUser | undefined;
  let userSpec: string | undefined;
  if (c.user !== undefined && isImage && !/^\d+(:\d+)?$/.test(c.user)) {
    const p = parseUserSpec(c.user);
    if (!p.ok) r(["user"], p.error);
    else userSpec = c.user;
  } else if (c.user !== undefined || !isImage)
    user = resolveUser(c.user ?? "0:0", ctx, (m) => r(["user"], m));

  const workdir = c.workdir ?? (isImage ? undefined : "/");
  const badWd = workdir === undefined ? undefined : checkAbsolutePath(workdir);
  if (badWd) r(["workdir"], badWd);

  const serviceName =
    c.serviceName === undefined
      ? `railyard-${project ? `${project}-` : ""}${name}.service`
      : c.serviceName.endsWith(".service")
        ? c.serviceName
        : `${c.serviceName}.service`;
  if (!/^[a-zA-Z0-9:_.\\-]+\.service$/.test(serviceName) || serviceName.includes("@"))
    r(
      ["serviceName"],
      `${JSON.stringify(c.serviceName)} is not a valid systemd service name. expected letters, digits and ":_.-"`,
    );
  const hostname = c.hostname ?? name.toLowerCase().replace(/[_.]/g, "-");

  if (!/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(hostname))
    r(
      ["hostname"],
      `${JSON.stringify(hostname)} is not a valid hostname. expected letters, digits and "-" (max 63)`,
    );

  const os = c.os ?? "linux";
  if (os !== "linux") r(["os"], `${JSON.stringify(os)} is not supported. expected "linux"`);
  const arch = normaliseArch(c.arch ?? ctx.hostArch);
  if (arch !== ctx.hostArch)
    r(
      ["arch"],
      `${JSON.stringify(c.arch)} differs from this host's ${JSON.stringify(ctx.hostArch)}; host programs run on the host's architecture`,
    );

  c.dependsOn?.forEach((d, i) => {
    if (d === name) r(["dependsOn", i], "a container cannot depend on itself");
    else if (!names.has(d))
      r(
        ["dependsOn", i],
        `${JSON.stringify(d)} is not a container in this config. expected one of: ${[...names].filter((n) => n !== name).join(", ") || "(none)"}`,
      );
  });

  const capabilities: Record<string, boolean> = {};
  for (const [k, v] of Object.entries(c.capabilities ?? {})) {
    const p = parseCapability(k);
    if (!p.ok) r(["capabilities", k], p.error);
    else capabilities[p.value] = v;
  }

  const sysctls = resolveSysctls(c.sysctls ?? {}, network, r);

  const devices: ResolvedDevice[] = [];
  const cdiDevices: string[] = [];
  c.devices?.forEach((d, i) => {
    // A path is a host node; anything else is a CDI name ("vendor.com/class=name").
    if (!d.startsWith("/") && d.includes("=")) {
      const bad = checkCdiName(d);
      if (bad) r(["devices", i], bad);
      else if (cdiDevices.includes(d)) r(["devices", i], `${JSON.stringify(d)} is listed twice`);
      else cdiDevices.push(d);
      return;
    }
    const p = parseDevice(d);
    if (!p.ok) r(["devices", i], `${p.error}, or a CDI device name such as "nvidia.com/gpu=all"`);
    else devices.push(p.value);
  });

  const environment: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.environment ?? {})) {
    if (!/^[^=\0]+$/.test(k)) r(["environment", k], 'is not a valid variable name (no "=" or NUL)');
    else if (v.includes("\0")) r(["environment", k], "value contains a NUL byte");
    else environment[k] = v;
  }
  c.environmentFiles?.forEach((f, i) => {
    const bad = checkAbsolutePath(f);
    if (bad) r(["environmentFiles", i], bad);
  });

  let stopSignal: string | undefined = isImage ? undefined : "SIGTERM";
  if (c.stopSignal !== undefined) {
    const p = parseSignal(c.stopSignal);
    if (!p.ok) r(["stopSignal"], p.error);
    else stopSignal = p.value;
  }

  const resources: { memory?: number; cpus?: number; pids?: number } = {};
  // Out-of-range limits are refused: systemd would read them as no limit at all.
  if (c.resources?.memory !== undefined) {
    const p = parseSize(c.resources.memory);
    if (!p.ok) r(["resources", "memory"], p.error);
    else if (p.value < MIN_MEMORY || p.value > MAX_MEMORY)
      r(
        ["resources", "memory"],
        `${JSON.stringify(c.resources.memory)} is out of range. expected from "6m" (the least runc allows) to "8192t"`,
      );
    else resources.memory = p.value;
  }
  const cpus = c.resources?.cpus;
  if (cpus !== undefined) {
    if (!(cpus >= 0.01 && cpus <= 1024))
      r(
        ["resources", "cpus"],
        `${cpus} is out of range. expected from 0.01 (systemd's CPUQuota=1%) to 1024 cores`,
      );
    else resources.cpus = cpus;
  }
  const pids = c.resources?.pids;
  if (pids !== undefined) {
    if (pids > MAX_PIDS)
      r(
        ["resources", "pids"],
        `${pids} is more than Linux allows (${MAX_PIDS}). expected 1 to ${MAX_PIDS}`,
      );
    else resources.pids = pids;
  }

  if (before.n > 0 || (!user && !isImage)) return undefined;
  return Object.freeze({
    name,
    ...(image ? { image } : {}),
    args: isImage ? [] : [...(c.args ?? []), ...(c.cmd ?? [])],
    closure: c.closure ?? "elf",
    include: c.include ?? [],
    environment,
    environmentFiles: c.environmentFiles ?? [],
    mounts: mounts.sort((a, b) => a.destination.localeCompare(b.destination)),
    ...(user ? { user } : {}),
    ...(userSpec ? { userSpec } : {}),
    ...(workdir !== undefined ? { workdir } : {}),
    hostname,
    readonly: c.readonly ?? !isImage,
    os,
    arch,
    dependsOn: c.dependsOn ?? [],
    autoStart: c.autoStart ?? true,
    labels: c.labels ?? {},
    capabilities,
    sysctls,
    init: c.init ?? false,
    devices,
    cdiDevices,
    restart: c.restart ?? "always",
    ...(stopSignal !== undefined ? { stopSignal } : {}),
    stopTimeout: c.stopTimeout ?? 10,
    network,
    networks: attachments,
    seccomp,
    ports,
    ...(healthcheck ? { healthcheck } : {}),
    secrets,
    ...(settle !== undefined ? { settle } : {}),
    resources,
    backend,
    serviceName,
  });
}

/** Limits systemd and runc take as meant (beyond them they mean nothing, or no limit). */
const MIN_MEMORY = 6 * 1024 ** 2;
const MAX_MEMORY = 8192 * 1024 ** 4;
/** The kernel's largest pid_max (PID_MAX_LIMIT on 64-bit). */
const MAX_PIDS = 4_194_304;

/** Kernel parameters a container may set: those namespaced per container, as runc allows. */
const NAMESPACED_SYSCTL = /^(net\.|kernel\.shm|kernel\.msg|kernel\.sem$|fs\.mqueue\.)/;

function resolveSysctls(
  given: Readonly<Record<string, string | number>>,
  network: string,
  r: Report,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, raw] of Object.entries(given).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const value = String(raw);
    if (!/^[a-z0-9_]+(\.[a-z0-9_-]+)+$/.test(k))
      r(
        ["sysctls", k],
        `is not a kernel parameter name. expected dotted words, e.g. "net.core.somaxconn"`,
      );
    else if (!NAMESPACED_SYSCTL.test(k))
      r(
        ["sysctls", k],
        `is not namespaced, so it would change the whole host. expected net.*, kernel.shm*, kernel.msg*, kernel.sem or fs.mqueue.*`,
      );
    else if (k.startsWith("net.") && network === "host")
      r(["sysctls", k], `would change the host's network: the container is on network "host"`);
    else if (k.startsWith("net.") && joinedOwner({ network }) !== undefined)
      r(
        ["sysctls", k],
        `would change ${joinedOwner({ network })}'s network, which this container joins: set it there`,
      );
    else if (value === "" || /[\0\n]/.test(value))
      r(["sysctls", k], `must be a value on one line, e.g. "1024"`);
    else out[k] = value;
  }
  return out;
}

function resolveHealthcheck(h: HealthcheckConfig, r: Report): ResolvedHealthcheck | undefined {
  const time = (key: "interval" | "timeout" | "startPeriod", dflt: number, min: number) => {
    const raw = h[key];
    if (raw === undefined) return dflt;
    const p = parseDuration(raw);
    if (!p.ok) r(["healthcheck", key], p.error);
    else if (p.value < min) r(["healthcheck", key], `must be at least ${formatDuration(min)}`);
    return p.ok ? p.value : dflt;
  };
  if (typeof h.test === "string" && h.test.trim() === "")
    r(["healthcheck", "test"], "must be a command: it cannot be empty");
  const out = {
    test: typeof h.test === "string" ? h.test : [...h.test],
    interval: time("interval", 30_000, 1),
    timeout: time("timeout", 30_000, 1),
    retries: h.retries ?? 3,
    startPeriod: time("startPeriod", 0, 0),
  };
  return out;
}

function resolveImage(
  name: string,
  c: ContainerConfig,
  r: Report,
  configFile: string,
): ResolvedImage | undefined {
  let ref: string | undefined;
  if (c.image !== undefined) {
    try {
      ref = formatReference(parseReference(c.image));
    } catch (e) {
      r(["image"], (e as Error).message);
      return undefined;
    }
  }
  let file: string | undefined;
  if (c.imageFile !== undefined) {
    const path = c.imageFile.startsWith("oci:")
      ? (c.imageFile.slice(4).split(":")[0] ?? "")
      : c.imageFile;
    const bad = checkAbsolutePath(path);
    if (bad) {
      r(
        ["imageFile"],
        `${bad}. expected a docker-archive or oci-archive tar, or "oci:/path/to/layout[:tag]"`,
      );
      return undefined;
    }
    file = c.imageFile;
  }
  const build = c.build === undefined ? undefined : resolveBuild(c.build, configFile, r);
  if (c.build !== undefined && file !== undefined)
    r(["build"], "cannot be combined with imageFile: the image comes from one or the other");
  const entrypoint =
    c.entrypoint === undefined
      ? undefined
      : typeof c.entrypoint === "string"
        ? [c.entrypoint]
        : c.entrypoint;
  let login: ResolvedImage["login"];
  if (c.login) {
    const bad = checkAbsolutePath(c.login.passwordFile);
    if (bad) r(["login", "passwordFile"], bad);
    const registry = c.login.registry ?? (ref ? parseReference(ref).domain : undefined);
    if (!registry)
      r(["login", "registry"], "is required when the image has no registry to take it from");
    else login = { registry, username: c.login.username, passwordFile: c.login.passwordFile };
  }
  return {
    ref: ref ?? `localhost/${name.toLowerCase()}:latest`,
    ...(file !== undefined ? { file } : {}),
    ...(build ? { build } : {}),
    ...(entrypoint !== undefined ? { entrypoint } : {}),
    ...(c.cmd !== undefined ? { cmd: c.cmd } : {}),
    pull: c.pull ?? "missing",
    ...(login ? { login } : {}),
  };
}

/** A build's paths made absolute: the context against the config file's directory, the Dockerfile against the context. */
function resolveBuild(
  b: string | BuildConfig,
  configFile: string,
  r: Report,
): ResolvedBuild | undefined {
  const o = typeof b === "string" ? { context: b } : b;
  const at: PropertyKey[] = typeof b === "string" ? ["build"] : ["build", "context"];
  const badContext = o.context === "" || o.context.includes("\0");
  if (badContext) r(at, "must be a directory: the build context");
  const context = posix.resolve(posix.dirname(configFile), o.context);
  let dockerfile: string | undefined;
  if (o.dockerfile !== undefined) {
    if (o.dockerfile === "" || o.dockerfile.includes("\0"))
      r(["build", "dockerfile"], "must be a file: the Dockerfile, relative to the context");
    else dockerfile = posix.resolve(context, o.dockerfile);
  }
  for (const [k, val] of Object.entries(o.args ?? {}))
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      r(
        ["build", "args", k],
        "is not an ARG name (letters, digits and _, not starting with a digit)",
      );
    else if (val.includes("\0")) r(["build", "args", k], "contains a NUL byte");
  if (o.target !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(o.target))
    r(["build", "target"], `${JSON.stringify(o.target)} is not a stage name`);
  if (badContext) return undefined;
  return {
    context,
    ...(dockerfile !== undefined ? { dockerfile } : {}),
    args: sortedArgs(o.args ?? {}),
    ...(o.target !== undefined ? { target: o.target } : {}),
  };
}

const sortedArgs = (a: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(a).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));

function resolveUser(
  spec: string,
  ctx: ResolveContext,
  fail: (m: string) => void,
): ResolvedUser | undefined {
  const p = parseUserSpec(spec);
  if (!p.ok) {
    fail(p.error);
    return undefined;
  }
  let uid: number;
  let gid: number;
  if (/^\d+$/.test(p.value.user)) {
    uid = Number(p.value.user);
    gid = uid === 0 ? 0 : uid;
  } else {
    const found = ctx.lookupUser(p.value.user);
    if (!found) {
      fail(
        `${JSON.stringify(spec)}: user ${JSON.stringify(p.value.user)} does not exist on this host. expected "uid:gid", "uid", or an existing user name`,
      );
      return undefined;
    }
    ({ uid, gid } = found);
  }
  if (p.value.group !== undefined) {
    if (/^\d+$/.test(p.value.group)) gid = Number(p.value.group);
    else {
      const g = ctx.lookupGroup(p.value.group);
      if (g === undefined) {
        fail(
          `${JSON.stringify(spec)}: group ${JSON.stringify(p.value.group)} does not exist on this host`,
        );
        return undefined;
      }
      gid = g;
    }
  }
  if (uid > 0xfffffffe || gid > 0xfffffffe) {
    fail(`${JSON.stringify(spec)}: ids must be below 4294967295`);
    return undefined;
  }
  return {
    uid,
    gid,
    name: uid === 0 ? "root" : (ctx.userName(uid) ?? `u${uid}`),
    group: gid === 0 ? "root" : (ctx.groupName(gid) ?? `g${gid}`),
  };
}

/**
 * `network: "container:NAME"` joins the namespace NAME's unit makes: NAME needs a network of its
 * own ("private" or a named one), runs with the same backend, and joins no other itself.
 */
function joinedNetworkProblems(containers: Record<string, ResolvedContainer>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const c of Object.values(containers)) {
    const name = joinedOwner(c);
    if (name === undefined) continue;
    const o = containers[name];
    if (!o) continue; // said where the container was resolved
    const at = `containers.${c.name}.network`;
    const theirs = joinedOwner(o);
    if (theirs !== undefined)
      problems.push({
        path: at,
        message: `${name} joins ${theirs}'s network itself: join that one`,
      });
    else if (o.network === "none" || o.network === "host")
      problems.push({
        path: at,
        message: `${name} is on network "${o.network}", which has no namespace of its own to join: give ${name} network "private" (or a named one)${o.network === "host" ? `, or use network "host" here too` : ""}`,
      });
    if (o.backend !== c.backend)
      problems.push({
        path: at,
        message: `${name} runs with backend "${o.backend}" and this container with "${c.backend}": one that joins another's network runs with the same backend`,
      });
  }
  return problems;
}

/** dependsOn must form a DAG, since units start in that order. */
function dependencyCycles(containers: Record<string, ResolvedContainer>): ConfigProblem[] {
  const state = new Map<string, "visiting" | "done">();
  const problems: ConfigProblem[] = [];
  const visit = (n: string, trail: string[]): void => {
    if (state.get(n) === "done") return;
    if (state.get(n) === "visiting") {
      const cycle = [...trail.slice(trail.indexOf(n)), n];
      problems.push({
        path: `containers.${n}.dependsOn`,
        message: `dependency cycle: ${cycle.join(" -> ")}`,
      });
      return;
    }
    state.set(n, "visiting");
    for (const d of containers[n]?.dependsOn ?? []) visit(d, [...trail, n]);
    state.set(n, "done");
  };
  for (const n of Object.keys(containers)) if (problems.length === 0) visit(n, []);
  return problems;
}

/** The index in `ports` each resolved port came from (a range gives several), for messages. */
const portOrigin = new WeakMap<PortSpec, number>();

/** Host names: DNS labels of letters, digits and "-", joined by dots (aliases, hostnames). */
const DNS_NAME =
  /^(?=.{1,253}$)[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)*$/;

/**
 * A container's `networks` (a list of names, or names -> aliases), in the order given; the
 * container's `network` when it names a declared network; else none.
 */
function resolveAttachments(
  c: ContainerConfig,
  declared: ReadonlySet<string>,
  r: Report,
): ResolvedAttachment[] {
  if (c.networks === undefined)
    return c.network !== undefined && declared.has(c.network)
      ? [{ name: c.network, aliases: [] }]
      : [];
  if (c.network !== undefined)
    r(
      ["networks"],
      `give either network or networks: networks already says the container's networks (its first is the one network would name)`,
    );
  const given: [string, readonly string[]][] = Array.isArray(c.networks)
    ? c.networks.map((n) => [n, []])
    : Object.entries(c.networks).map(([n, a]) => [n, a.aliases ?? []]);
  if (given.length === 0)
    r(["networks"], `names no network. list at least one, or use network "none"`);
  const out: ResolvedAttachment[] = [];
  given.forEach(([name, aliases], i) => {
    const at = Array.isArray(c.networks) ? ["networks", i] : ["networks", name];
    if (!declared.has(name))
      return r(
        at,
        `${JSON.stringify(name)} is not a declared network. ` +
          (BUILTIN_NETWORKS.includes(name)
            ? `"${name}" is a network of its own: use network "${name}" instead of networks`
            : `declare it under networks${declared.size > 0 ? ` (${[...declared].sort().join(", ")})` : ""}`),
      );
    if (out.some((o) => o.name === name)) return r(at, `names ${name} twice`);
    aliases.forEach((a, j) => {
      if (!DNS_NAME.test(a))
        r(
          [...at, "aliases", j],
          `${JSON.stringify(a)} is not a host name. expected letters, digits, "-" and "_", in labels joined by "."`,
        );
    });
    out.push({ name, aliases: [...new Set(aliases)] });
  });
  return out;
}

/** A secret's name becomes a systemd credential's name and a file name. */
const SECRET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;

function resolveSecrets(
  raw: Record<string, { file?: string | undefined; encrypted?: string | undefined }>,
  problems: ConfigProblem[],
): Record<string, { file?: string; encrypted?: string }> {
  const out: Record<string, { file?: string; encrypted?: string }> = {};
  for (const name of Object.keys(raw).sort()) {
    const at = (...p: string[]) => formatPath(["secrets", name, ...p]);
    const s = raw[name] ?? {};
    if (!SECRET_NAME.test(name)) {
      problems.push({
        path: at(),
        message: `${JSON.stringify(name)} is not a secret name. expected 1 to 63 of a-z A-Z 0-9 _ . -, not starting with "." or "-"`,
      });
      continue;
    }
    const given = (["file", "encrypted"] as const).filter((k) => s[k] !== undefined);
    if (given.length !== 1) {
      problems.push({
        path: at(),
        message:
          "needs exactly one of file (a file holding the value) and encrypted (a credential made with systemd-creds encrypt)",
      });
      continue;
    }
    const key = given[0] as "file" | "encrypted";
    const path = s[key] as string;
    const bad = checkAbsolutePath(path);
    if (bad) problems.push({ path: at(key), message: bad });
    else out[name] = { [key]: path };
  }
  return out;
}

/** Compose's defaults for a secret in a container: /run/secrets/<name>, root, 0444. */
const SECRETS_DIR = "/run/secrets";

function resolveContainerSecrets(
  list: readonly (string | NonNullable<ContainerConfig["secrets"]>[number])[],
  declared: ReadonlySet<string>,
  backend: string,
  r: Report,
): ResolvedSecretMount[] {
  const out: ResolvedSecretMount[] = [];
  if (list.length > 0 && backend !== "oci")
    r(
      ["secrets"],
      `secrets run with backend "oci" only, for now (railyard export carries them). use backend "oci"`,
    );
  list.forEach((item, i) => {
    const s = typeof item === "string" ? { source: item } : item;
    const at = typeof item === "string" ? [i] : [i, "source"];
    if (!declared.has(s.source)) {
      r(
        ["secrets", ...at],
        `${JSON.stringify(s.source)} is not under the top-level secrets. expected one of: ${[...declared].join(", ") || "(none declared)"}`,
      );
      return;
    }
    const t = s.target ?? s.source;
    const target = t.startsWith("/") ? cleanPath(t) : `${SECRETS_DIR}/${t}`;
    const bad = checkAbsolutePath(target);
    if (bad || (!t.startsWith("/") && t.includes("/"))) {
      r(
        ["secrets", i, "target"],
        bad ?? `a relative target is a file name under ${SECRETS_DIR}, without "/"`,
      );
      return;
    }
    if (out.some((o) => o.target === target)) {
      r(["secrets", i, "target"], `${target} is already the target of another secret`);
      return;
    }
    let mode = 0o444;
    if (typeof s.mode === "string") {
      if (!/^0?[0-7]{3}$/.test(s.mode)) {
        r(["secrets", i, "mode"], `${JSON.stringify(s.mode)} is not an octal mode such as "0440"`);
        return;
      }
      mode = parseInt(s.mode, 8);
    } else if (s.mode !== undefined) mode = s.mode;
    out.push({ source: s.source, target, uid: s.uid ?? 0, gid: s.gid ?? 0, mode });
  });
  return out;
}

/** Becomes the bridge "ry-<name>", and interface names have 15 characters at most. */
const NETWORK_NAME = /^[a-z0-9][a-z0-9_-]{0,11}$/;

function resolveNetworks(
  raw: Record<string, { subnet?: string | undefined; ipv6?: boolean | string | undefined }>,
  problems: ConfigProblem[],
): Record<string, ResolvedNetwork> {
  const out: Record<string, ResolvedNetwork> = {};
  for (const name of Object.keys(raw).sort()) {
    const at = (...p: string[]) => formatPath(["networks", name, ...p]);
    if (BUILTIN_NETWORKS.includes(name)) {
      problems.push({
        path: at(),
        message: `"${name}" is built in and cannot be declared. pick another name`,
      });
      continue;
    }
    if (!NETWORK_NAME.test(name)) {
      problems.push({
        path: at(),
        message: `${JSON.stringify(name)} is not a network name. expected 1 to 12 of a-z, 0-9, "-" and "_", starting with a letter or digit`,
      });
      continue;
    }
    const { subnet, ipv6 } = raw[name] ?? {};
    const v4 = subnet === undefined ? undefined : parseSubnet(subnet, 12, 29);
    if (v4 && !v4.ok) problems.push({ path: at("subnet"), message: v4.error });
    if (typeof ipv6 === "string") {
      const p = parseSubnet6(ipv6);
      if (!p.ok) problems.push({ path: at("ipv6"), message: p.error });
      else {
        // Each member's IPv6 address has its IPv4 address's host number: room for as many.
        const v4Bits = 32 - (v4?.ok ? v4.value.prefix : NAMED_DEFAULT_PREFIX);
        if (128 - p.value.prefix < v4Bits)
          problems.push({
            path: at("ipv6"),
            message: `${ipv6} has fewer addresses than the network's IPv4 subnet (/${32 - v4Bits}). use a /${128 - v4Bits} or larger`,
          });
      }
    }
    out[name] = {
      ...(subnet !== undefined ? { subnet } : {}),
      ...(ipv6 === true || typeof ipv6 === "string" ? { ipv6 } : {}),
    };
  }
  return out;
}

/** Problems between networks and containers: overlapping subnets, full subnets, ports published twice. */
function networkProblems(
  networks: Record<string, ResolvedNetwork>,
  containers: Record<string, ResolvedContainer>,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const subnets: [string, Subnet][] = [['the pool of network "private"', PRIVATE_POOL]];
  for (const [name, n] of Object.entries(networks)) {
    const p = n.subnet === undefined ? undefined : parseSubnet(n.subnet, 12, 29);
    if (!p?.ok) continue;
    const clash = subnets.find(([, s]) => overlaps(s, p.value));
    if (clash)
      problems.push({
        path: `networks.${name}.subnet`,
        message: `${n.subnet} overlaps ${clash[0].startsWith("the pool") ? `${clash[0]} (${formatSubnet(clash[1])})` : `networks.${clash[0]}.subnet`}. pick a subnet of its own`,
      });
    subnets.push([name, p.value]);
    const members = Object.values(containers).filter((c) =>
      c.networks.some((a) => a.name === name),
    ).length;
    const room = subnetSize(p.value) - 3;
    if (members > room)
      problems.push({
        path: `networks.${name}.subnet`,
        message: `${n.subnet} has room for ${room} containers, and ${members} are on it. use a larger subnet`,
      });
  }
  // Names on each network: /etc/hosts gives a name one address, so no two members share one.
  for (const name of Object.keys(networks)) {
    const owner = new Map<string, string>();
    for (const c of Object.values(containers)) {
      const a = c.networks.find((x) => x.name === name);
      if (!a) continue;
      for (const n of new Set([c.name, c.hostname])) owner.set(n.toLowerCase(), c.name);
    }
    for (const c of Object.values(containers)) {
      const i = c.networks.findIndex((x) => x.name === name);
      c.networks[i]?.aliases.forEach((alias, j) => {
        const other = owner.get(alias.toLowerCase());
        if (other !== undefined && other !== c.name)
          problems.push({
            path: `containers.${c.name}.networks.${name}.aliases[${j}]`,
            message: `${alias} is already ${other === alias ? "a container" : `a name of ${other}`} on network ${name}. each name on a network reaches one container`,
          });
        else owner.set(alias.toLowerCase(), c.name);
      });
    }
  }
  const subnets6: [string, Subnet6][] = [];
  for (const [name, n] of Object.entries(networks)) {
    const p = typeof n.ipv6 === "string" ? parseSubnet6(n.ipv6) : undefined;
    if (!p?.ok) continue;
    const clash = subnets6.find(([, s]) => overlaps6(s, p.value));
    if (clash)
      problems.push({
        path: `networks.${name}.ipv6`,
        message: `${n.ipv6} overlaps networks.${clash[0]}.ipv6. pick a subnet of its own`,
      });
    subnets6.push([name, p.value]);
  }
  // IPv6: ::1 through a proxy (TCP, any network of the container's own); any other address by
  // the kernel, to the container's IPv6 address on its first network.
  for (const c of Object.values(containers))
    c.ports.forEach((p, i) => {
      const ip = p.hostIp;
      if (ip === undefined || !ip.includes(":")) return;
      const where = `containers.${c.name}.ports[${portOrigin.get(p) ?? i}]`;
      if (ip === "::1" && p.protocol === "udp")
        problems.push({
          path: where,
          message: `UDP is not published on [::1] (it goes through a TCP proxy). publish it on 127.0.0.1, or on [::] with a dual-stack network`,
        });
      else if (ip !== "::1" && !isDualStack(c, { networks }))
        problems.push({
          path: where,
          message: `publishing on ${ip === "::" ? "every IPv6 address" : ip} needs an IPv6 address in the container: ${
            c.networks[0] !== undefined
              ? `give networks.${c.networks[0].name} ipv6: true`
              : `network "${c.network}" is IPv4 only; use a named network with ipv6: true`
          } (or publish on [::1], which any network can)`,
        });
    });
  // By host port and protocol, so a range of thousands of ports stays one pass. What a port takes:
  // its address, and on a dual-stack network, a TCP port without one takes [::1] too.
  const published = new Map<string, { where: string; ip: string; port: PortSpec }[]>();
  for (const c of Object.values(containers)) {
    const loop6 = new Set(loopback6Ports(c, { networks }));
    c.ports.forEach((p, i) => {
      const where = `containers.${c.name}.ports[${portOrigin.get(p) ?? i}]`;
      const key = `${publishedPort(p)}/${p.protocol}`;
      const same = published.get(key) ?? [];
      const ips = [publishedIp(p), ...(loop6.has(p) && p.hostIp === undefined ? ["::1"] : [])];
      for (const ip of ips) {
        const any = ip.includes(":") ? "::" : "0.0.0.0";
        const other = same.find(
          (o) =>
            o.ip.includes(":") === ip.includes(":") && (o.ip === ip || o.ip === any || ip === any),
        );
        if (other)
          problems.push({
            path: where,
            message: `${formatPublished({ ...p, hostIp: ip })} is already published by ${other.where} (${formatPublished({ ...other.port, hostIp: other.ip })}). pick another host port`,
          });
        same.push({ where, ip, port: p });
      }
      published.set(key, same);
    });
  }
  return problems;
}
