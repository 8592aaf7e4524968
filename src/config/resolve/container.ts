/**
 * One container of the config, resolved: a short list of section resolvers, each collecting its
 * own problems by key path. Pure: host facts come in through the context.
 */
import {
  checkAbsolutePath,
  cleanPath,
  normaliseArch,
  parseCapability,
  parseDevice,
  parseDuration,
  formatDuration,
  parseSignal,
  parseTmpfs,
  parseUserSpec,
  parsePorts,
  parseVolume,
  TMPFS_DEFAULT_OPTIONS,
  type Parsed,
  type PortSpec,
} from "../../model/parse.js";
import type { Report, ResolveContext } from "./context.js";
import { BUILTIN_NETWORKS, joinedOwner } from "../../model/network.js";
import { checkCdiName } from "../../model/cdi.js";
import type {
  ContainerConfig,
  ResolvedAttachment,
  HealthcheckConfig,
  ResolvedHealthcheck,
  ResolvedImage,
  ResolvedConfig,
  ResolvedContainer,
  ResolvedDevice,
  ResolvedMount,
  ResolvedUser,
} from "../../model/types.js";
import { resolveImage } from "./image.js";
import { resolveResources, resolveShmSize, resolveSysctls, resolveUlimits } from "./limits.js";
import { resolveDns, resolveExtraHosts } from "./network.js";
import { portOrigin, resolveAttachments } from "./network.js";
import { formatPath } from "./problems.js";
import { resolveContainerSecrets } from "./secrets.js";
import { resolveGroupAdd, resolveUser } from "./user.js";
import { withHostService } from "./host-service.js";
import type { FromHost } from "../../model/host-service.js";
import { ClosureError } from "../../errors.js";

export function resolveContainer(
  name: string,
  given: ContainerConfig,
  project: string | undefined,
  defaultBackend: ResolvedConfig["backend"],
  names: ReadonlySet<string>,
  declaredNetworks: ReadonlySet<string>,
  declaredSecrets: ReadonlySet<string>,
  ctx: ResolveContext,
  report: Report,
): ResolvedContainer | undefined {
  let problems = 0;
  const r: Report = (p, m) => {
    problems++;
    report(p, m);
  };
  const { config: c, fromHost } = fromTheHost(given, ctx, r);
  const { isImage, image } = resolveKind(name, c, ctx, r);
  const backend = resolveBackend(c, defaultBackend, isImage, r);
  const mounts = resolveMounts(c, r);
  const { ports, network, attachments } = resolveContainerNetwork(
    name,
    c,
    isImage,
    names,
    declaredNetworks,
    r,
  );
  const healthcheck = c.healthcheck ? resolveHealthcheck(c.healthcheck, r) : undefined;
  const secrets = resolveContainerSecrets(c.secrets ?? [], declaredSecrets, backend, r);
  const settle = resolveSettle(c, r);
  const seccomp = resolveSeccomp(c, r);
  const { user, userSpec, workdir, serviceName, hostname, os, arch } = resolveIdentity(
    name,
    c,
    project,
    isImage,
    ctx,
    r,
  );
  checkDependsOn(name, c, names, r);
  const capabilities = resolveCapabilities(c, r);
  const sysctls = resolveSysctls(c.sysctls ?? {}, network, r);
  const { devices, cdiDevices } = resolveDevices(c, r);
  const environment = resolveEnvironment(c, r);
  const stopSignal = resolveStopSignal(c, isImage, r);
  const resources = resolveResources(c, r);
  const shmSize = resolveShmSize(c, r);
  const ulimits = resolveUlimits(c, r);
  const dns = resolveDns(c, network, r);
  const extraHosts = resolveExtraHosts(c, network, r);
  const groupAdd = resolveGroupAdd(c, isImage, ctx, r);

  if (problems > 0 || (!user && !isImage)) return undefined;
  return Object.freeze({
    name,
    ...(image ? { image } : {}),
    args: isImage ? [] : [...(c.args ?? []), ...(c.cmd ?? [])],
    closure: c.closure ?? "elf",
    include: c.include ?? [],
    ...(fromHost ? { fromHost } : {}),
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
    ...(shmSize !== undefined ? { shmSize } : {}),
    ...(c.pid !== undefined ? { pid: c.pid } : {}),
    ...(dns !== undefined ? { dns } : {}),
    ...(extraHosts?.length ? { extraHosts } : {}),
    ...(groupAdd !== undefined ? { groupAdd } : {}),
    ...(ulimits !== undefined ? { ulimits } : {}),
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

/** Image or host program: the keys each kind takes, and the image's reference. */
/** An image container (`image`, `imageFile` or `build`), not a host program. */
const isImageConfig = (c: ContainerConfig): boolean =>
  c.image !== undefined || c.imageFile !== undefined || c.build !== undefined;

/**
 * A host program's settings as its Debian service has them (`service`), where the config sets
 * none: see host-service.ts. Unchanged for images, `service: false`, or a program no package owns.
 */
function fromTheHost(
  c: ContainerConfig,
  ctx: ResolveContext,
  r: Report,
): { config: ContainerConfig; fromHost?: FromHost } {
  if (isImageConfig(c)) return { config: c };
  const program = c.args?.[0];
  const service = typeof c.service === "string" ? c.service : undefined;
  if (c.service === false || !ctx.hostService || (program === undefined && service === undefined))
    return { config: c };
  try {
    const h = ctx.hostService({
      ...(program !== undefined ? { program } : {}),
      ...(service !== undefined ? { service } : {}),
    });
    if (!h) return { config: c };
    const m = withHostService(c, h, r);
    // The unit names its directories' owner (User=, Group=): the host's ids.
    const writable = m.fromHost.writable.map((w) => {
      const uid = w.user !== undefined ? ctx.lookupUser(w.user)?.uid : (w.uid ?? 0);
      const gid = w.group !== undefined ? ctx.lookupGroup(w.group) : (w.gid ?? 0);
      if (uid === undefined || gid === undefined)
        r(
          ["service"],
          `${w.from} names ${w.user ?? ""}:${w.group ?? ""}, which is not a user and group of this host`,
        );
      return { ...w, ...(uid !== undefined ? { uid } : {}), ...(gid !== undefined ? { gid } : {}) };
    });
    return { config: m.config, fromHost: { ...m.fromHost, writable } };
  } catch (e) {
    if (!(e instanceof ClosureError)) throw e;
    r(["service"], e.message);
    return { config: c };
  }
}

function resolveKind(
  name: string,
  c: ContainerConfig,
  ctx: ResolveContext,
  r: Report,
): { isImage: boolean; image: ResolvedImage | undefined } {
  let image: ResolvedImage | undefined;
  const isImage = isImageConfig(c);
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
    if (c.service !== undefined)
      r(["service"], "only applies to host programs (args), not to images");
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

  return { isImage, image };
}

function resolveBackend(
  c: ContainerConfig,
  defaultBackend: ResolvedConfig["backend"],
  isImage: boolean,
  r: Report,
): ResolvedConfig["backend"] {
  const backend = c.backend ?? defaultBackend;
  if (backend !== "oci" && !isImage)
    r(
      ["backend"],
      `${JSON.stringify(backend)} runs images only. host programs (args) need backend "oci" (runc/crun run the bundle directly)`,
    );
  return backend;
}

function resolveMounts(c: ContainerConfig, r: Report): ResolvedMount[] {
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
  // The short forms: one string each, parsed, and an error names its index.
  const short = <T>(
    key: "volumes" | "tmpfs",
    specs: readonly string[] | undefined,
    parse: (spec: string) => Parsed<T>,
    mount: (v: T) => Omit<ResolvedMount, "origin">,
  ) =>
    specs?.forEach((spec, i) => {
      const p = parse(spec);
      if (!p.ok) return r([key, i], p.error);
      mounts.push({ ...mount(p.value), origin: formatPath([key, i]) });
    });
  short("volumes", c.volumes, parseVolume, (v) => ({
    destination: v.destination,
    type: "bind",
    source: v.source,
    options: ["rbind", v.readonly ? "ro" : "rw"],
  }));
  short("tmpfs", c.tmpfs, parseTmpfs, (t) => ({
    destination: t.destination,
    type: "tmpfs",
    source: "tmpfs",
    options: [...TMPFS_DEFAULT_OPTIONS, ...t.options],
  }));
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
  return mounts;
}

/** Its published ports, its network and its named networks. */
function resolveContainerNetwork(
  name: string,
  c: ContainerConfig,
  isImage: boolean,
  names: ReadonlySet<string>,
  declaredNetworks: ReadonlySet<string>,
  r: Report,
): { ports: PortSpec[]; network: string; attachments: readonly ResolvedAttachment[] } {
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
  return { ports, network, attachments };
}

function resolveSettle(c: ContainerConfig, r: Report): number | undefined {
  let settle: number | undefined;
  if (c.settle !== undefined) {
    const p = parseDuration(c.settle);
    if (!p.ok) r(["settle"], p.error);
    else if (p.value > 3_600_000) r(["settle"], "must be at most 1h");
    else settle = p.value;
  }
  return settle;
}

function resolveSeccomp(c: ContainerConfig, r: Report): string {
  const seccomp = c.seccomp ?? "default";
  if (seccomp !== "default" && seccomp !== "unconfined" && checkAbsolutePath(seccomp))
    r(
      ["seccomp"],
      `${JSON.stringify(seccomp)} is not a profile. expected "default", "unconfined" or the absolute path of a profile file`,
    );
  return seccomp;
}

/** Who it runs as, where, and under which names: user, workdir, unit, hostname, platform. */
function resolveIdentity(
  name: string,
  c: ContainerConfig,
  project: string | undefined,
  isImage: boolean,
  ctx: ResolveContext,
  r: Report,
) {
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
  return { user, userSpec, workdir, serviceName, hostname, os, arch };
}

function checkDependsOn(
  name: string,
  c: ContainerConfig,
  names: ReadonlySet<string>,
  r: Report,
): void {
  c.dependsOn?.forEach((d, i) => {
    if (d === name) r(["dependsOn", i], "a container cannot depend on itself");
    else if (!names.has(d))
      r(
        ["dependsOn", i],
        `${JSON.stringify(d)} is not a container in this config. expected one of: ${[...names].filter((n) => n !== name).join(", ") || "(none)"}`,
      );
  });
}

function resolveCapabilities(c: ContainerConfig, r: Report): Record<string, boolean> {
  const capabilities: Record<string, boolean> = {};
  for (const [k, v] of Object.entries(c.capabilities ?? {})) {
    const p = parseCapability(k);
    if (!p.ok) r(["capabilities", k], p.error);
    else capabilities[p.value] = v;
  }
  return capabilities;
}

/** Host device nodes, and CDI devices by name. */
function resolveDevices(
  c: ContainerConfig,
  r: Report,
): { devices: ResolvedDevice[]; cdiDevices: string[] } {
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
  return { devices, cdiDevices };
}

function resolveEnvironment(c: ContainerConfig, r: Report): Record<string, string> {
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
  return environment;
}

function resolveStopSignal(c: ContainerConfig, isImage: boolean, r: Report): string | undefined {
  let stopSignal: string | undefined = isImage ? undefined : "SIGTERM";
  if (c.stopSignal !== undefined) {
    const p = parseSignal(c.stopSignal);
    if (!p.ok) r(["stopSignal"], p.error);
    else stopSignal = p.value;
  }
  return stopSignal;
}

export function resolveHealthcheck(
  h: HealthcheckConfig,
  r: Report,
): ResolvedHealthcheck | undefined {
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
