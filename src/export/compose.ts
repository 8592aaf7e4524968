/**
 * railyard config -> compose.yaml (pure). Each image container becomes a service that means the
 * same under docker compose or podman-compose: capabilities as `cap_drop: [ALL]` plus railyard's
 * exact set, `read_only` always written (railyard's default is true, compose's false), the
 * network written out ("none", "host", or a network by name). Whatever compose cannot say is named in `warnings`.
 */
import { effectiveCapabilities } from "../model/capabilities.js";
import { formatDuration, formatPorts, formatSize, TMPFS_DEFAULT_OPTIONS } from "../model/parse.js";
import type { ResolvedConfig, ResolvedContainer, RestartPolicy } from "../model/types.js";
import {
  imageContainers,
  sortedEntries,
  warnHostSpecific,
  type ExportedNetwork,
  type Exporting,
  type ExportResult,
} from "./common.js";

export type ComposeService = Record<string, unknown>;
export interface ComposeFile {
  /** The config's project: compose prefixes the containers with it, as railyard does. */
  name?: string;
  services: Record<string, ComposeService>;
  networks?: Record<string, { enable_ipv6?: boolean; ipam?: { config: { subnet: string }[] } }>;
  secrets?: Record<string, { file: string }>;
}

const RESTART: Record<RestartPolicy, string> = {
  no: "no",
  always: "always",
  "on-failure": "on-failure",
  "on-abnormal": "on-failure",
  "on-abort": "on-failure",
  "on-watchdog": "on-failure",
  "on-success": "no",
};

const PULL = { missing: "missing", always: "always", newer: "always", never: "never" } as const;

/** Compose interpolates `$`: a literal one is written `$$`. */
const escape = (s: string) => s.replaceAll("$", "$$$$");

const sortedRecord = (r: Readonly<Record<string, string>>) =>
  Object.fromEntries(sortedEntries(r).map(([k, v]) => [k, escape(v)]));

export function toCompose(
  config: ResolvedConfig,
  images: Readonly<Record<string, string>>,
): ExportResult<ComposeFile> {
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  const services: Record<string, ComposeService> = {};
  const networks: NonNullable<ComposeFile["networks"]> = {};
  for (const e of imageContainers(config, images, "compose", warn)) {
    services[e.c.name] = service(e);
    const net = e.network;
    if (net.kind === "network")
      for (const n of net.networks) {
        const subnets = [n.subnet, typeof n.ipv6 === "string" ? n.ipv6 : undefined].flatMap(
          (subnet) => (subnet === undefined ? [] : [{ subnet }]),
        );
        networks[n.name] = {
          ...(n.ipv6 !== undefined ? { enable_ipv6: true } : {}),
          ...(subnets.length > 0 ? { ipam: { config: subnets } } : {}),
        };
      }
  }
  const named = Object.keys(networks).length > 0;
  const secrets = exportedSecrets(config, Object.values(services), warn);
  return {
    output: {
      ...(config.project !== undefined ? { name: config.project } : {}),
      services,
      ...(named ? { networks: Object.fromEntries(sortedEntries(networks)) } : {}),
      ...(Object.keys(secrets).length > 0 ? { secrets } : {}),
    },
    warnings,
  };
}

/**
 * The top-level secrets the exported services use: file sources as they are. An encrypted
 * credential has no compose form (compose reads plain files): named, and left for the user.
 */
function exportedSecrets(
  config: ResolvedConfig,
  services: readonly ComposeService[],
  warn: (m: string) => void,
): Record<string, { file: string }> {
  const used = new Set(
    services.flatMap((s) => ((s["secrets"] ?? []) as { source: string }[]).map((x) => x.source)),
  );
  const out: Record<string, { file: string }> = {};
  for (const name of [...used].sort()) {
    const s = config.secrets[name];
    if (s?.file !== undefined) out[name] = { file: s.file };
    else
      warn(
        `secrets.${name}.encrypted: compose reads plain files; decrypt it (systemd-creds decrypt) to a file and add it under secrets`,
      );
  }
  return out;
}

function composeBuild(b: NonNullable<NonNullable<ResolvedContainer["image"]>["build"]>) {
  return {
    context: b.context,
    ...(b.dockerfile ? { dockerfile: b.dockerfile } : {}),
    ...(Object.keys(b.args).length > 0 ? { args: { ...b.args } } : {}),
    ...(b.target ? { target: b.target } : {}),
  };
}

function service(e: Exporting): ComposeService {
  const { c, img, image, warn, here } = e;
  // A built image: compose builds it too, and tags it with the name (never a digest of ours).
  const s: ComposeService = img.build
    ? { image: img.ref, build: composeBuild(img.build) }
    : { image };
  if (img.pull !== "missing") s["pull_policy"] = PULL[img.pull];
  if (img.pull === "newer")
    here('pull: "newer" becomes "always"; compose has no pull that falls back to the cache');
  if (img.entrypoint) s["entrypoint"] = img.entrypoint.map(escape);
  if (img.cmd) s["command"] = img.cmd.map(escape);
  if (Object.keys(c.environment).length > 0) s["environment"] = sortedRecord(c.environment);
  if (c.environmentFiles.length > 0) s["env_file"] = [...c.environmentFiles];
  // The long syntax, with railyard's defaults written out (compose's are the same).
  if (c.secrets.length > 0)
    s["secrets"] = c.secrets.map((x) => ({
      source: x.source,
      target: x.target,
      uid: String(x.uid),
      gid: String(x.gid),
      mode: x.mode,
    }));

  Object.assign(s, mountKeys(c, here));

  if (c.ports.length > 0) s["ports"] = formatPorts(c.ports);
  Object.assign(s, networkKeys(e.network));

  if (c.user) s["user"] = `${c.user.uid}:${c.user.gid}`;
  else if (c.userSpec !== undefined) s["user"] = c.userSpec;
  if (c.workdir !== undefined) s["working_dir"] = c.workdir;
  s["hostname"] = c.hostname;
  s["read_only"] = c.readonly;
  s["cap_drop"] = ["ALL"];
  s["cap_add"] = effectiveCapabilities(c).map((x) => x.replace(/^CAP_/, ""));
  // Compose's engines add a seccomp profile and SELinux labels; railyard sets no_new_privileges.
  // "default" leaves the engine's own default profile, which is of the same strength.
  s["security_opt"] = [
    "no-new-privileges:true",
    ...(c.seccomp === "default" ? [] : [`seccomp=${c.seccomp}`]),
  ];
  if (c.devices.length + c.cdiDevices.length > 0)
    s["devices"] = [
      ...c.devices.map((d) => `${d.hostPath}:${d.path}:${d.access}`),
      ...c.cdiDevices,
    ];
  if (Object.keys(c.sysctls).length > 0) s["sysctls"] = { ...c.sysctls };
  if (c.shmSize !== undefined) s["shm_size"] = formatSize(c.shmSize);
  if (c.pid !== undefined) s["pid"] = c.pid;
  if (c.groupAdd) s["group_add"] = [...c.groupAdd];
  // name:address, split at the first colon (so an IPv6 address passes), as docker and podman read it.
  if (c.extraHosts) s["extra_hosts"] = c.extraHosts.map((h) => `${h.name}:${h.address}`);
  if (c.dns?.servers.length) s["dns"] = [...c.dns.servers];
  if (c.dns?.search.length) s["dns_search"] = [...c.dns.search];
  if (c.dns?.options.length) s["dns_opt"] = [...c.dns.options];
  if (c.ulimits)
    s["ulimits"] = Object.fromEntries(
      Object.entries(c.ulimits).map(([n, l]) => [n, l.soft === l.hard ? l.soft : { ...l }]),
    );
  if (c.init) s["init"] = true;

  s["restart"] = RESTART[c.restart];
  if (RESTART[c.restart] !== c.restart)
    here(`restart: "${c.restart}" becomes "${RESTART[c.restart]}"; compose has no such policy`);
  if (!c.autoStart)
    here("autoStart: false is not exported; compose up starts every service it is given");
  if (c.dependsOn.length > 0) s["depends_on"] = e.dependencies();
  if (c.stopSignal !== undefined) s["stop_signal"] = c.stopSignal;
  s["stop_grace_period"] = formatDuration(c.stopTimeout * 1000);

  if (c.resources.memory !== undefined) s["mem_limit"] = formatSize(c.resources.memory);
  if (c.resources.cpus !== undefined) s["cpus"] = c.resources.cpus;
  if (c.resources.pids !== undefined) s["pids_limit"] = c.resources.pids;

  const h = c.healthcheck;
  if (h)
    s["healthcheck"] = {
      test: typeof h.test === "string" ? escape(h.test) : ["CMD", ...h.test.map(escape)],
      interval: formatDuration(h.interval),
      timeout: formatDuration(h.timeout),
      retries: h.retries,
      start_period: formatDuration(h.startPeriod),
    };
  if (Object.keys(c.labels).length > 0) s["labels"] = sortedRecord(c.labels);

  warnHostSpecific(c, (r) => `run docker/podman login ${r}`, warn);
  if (c.serviceName !== `railyard-${c.name}.service`)
    here(`serviceName: ${c.serviceName} is not exported; compose names its own containers`);
  return s;
}

/** volumes and tmpfs: bind mounts and tmpfs as compose writes them; other mounts are named. */
function mountKeys(c: ResolvedContainer, here: (m: string) => void): ComposeService {
  const s: ComposeService = {};
  const volumes: unknown[] = [];
  const tmpfs: string[] = [];
  for (const m of c.mounts) {
    if (m.type === "tmpfs") {
      const opts = m.options.filter((o, i) => TMPFS_DEFAULT_OPTIONS[i] !== o);
      tmpfs.push(opts.length > 0 ? `${m.destination}:${opts.join(",")}` : m.destination);
    } else if (m.type === "bind") {
      const extra = m.options.filter((o) => !["rbind", "bind", "ro", "rw"].includes(o));
      if (extra.length > 0)
        here(`${m.origin}: the mount options ${extra.join(",")} are not exported`);
      volumes.push(`${m.source}:${m.destination}${m.options.includes("ro") ? ":ro" : ""}`);
    } else here(`${m.origin}: a ${m.type} mount has no compose form; not exported`);
  }
  if (volumes.length > 0) s["volumes"] = volumes;
  if (tmpfs.length > 0) s["tmpfs"] = tmpfs;
  return s;
}

/** networks (a list, or a map with aliases), or network_mode for none, host and service:NAME. */
function networkKeys(net: ExportedNetwork): ComposeService {
  const s: ComposeService = {};
  if (net.kind === "network")
    // A list, or a map where a network gives the container aliases.
    s["networks"] = net.networks.some((n) => n.aliases.length > 0)
      ? Object.fromEntries(
          net.networks.map((n) => [n.name, n.aliases.length > 0 ? { aliases: n.aliases } : {}]),
        )
      : net.networks.map((n) => n.name);
  else if (net.kind === "container") s["network_mode"] = `service:${net.name}`;
  else s["network_mode"] = net.kind;
  return s;
}
