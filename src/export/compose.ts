/**
 * railyard config -> compose.yaml (pure). Each image container becomes a service that means the
 * same under docker compose or podman-compose: capabilities as `cap_drop: [ALL]` plus railyard's
 * exact set, `read_only` always written (railyard's default is true, compose's false), the
 * network "none" written out. Whatever compose cannot say is named in `warnings`.
 */
import { effectiveCapabilities } from "../bundle/spec.js";
import { formatDuration, formatPort, formatSize, TMPFS_DEFAULT_OPTIONS } from "../config/parse.js";
import type { ResolvedConfig, ResolvedContainer, RestartPolicy } from "../config/types.js";
import type { ExportResult } from "./kubernetes.js";

export type ComposeService = Record<string, unknown>;
export interface ComposeFile {
  services: Record<string, ComposeService>;
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
  Object.fromEntries(
    Object.entries(r)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [k, escape(v)]),
  );

export function toCompose(config: ResolvedConfig, images: Readonly<Record<string, string>>) {
  const warnings: string[] = [];
  const services: Record<string, ComposeService> = {};
  const names = Object.keys(config.containers).sort();
  for (const name of names) {
    const c = config.containers[name] as ResolvedContainer;
    const at = `containers.${name}`;
    if (!c.image) {
      warnings.push(
        `${at}: a host program (args) has no image, so compose cannot run it; not exported`,
      );
      continue;
    }
    services[name] = service(c, images[name] ?? c.image.ref, config, (m) =>
      warnings.push(`${at}.${m}`),
    );
  }
  const result: ExportResult<ComposeFile> = { output: { services }, warnings };
  return result;
}

function service(
  c: ResolvedContainer,
  image: string,
  config: ResolvedConfig,
  warn: (m: string) => void,
): ComposeService {
  const img = c.image as NonNullable<ResolvedContainer["image"]>;
  const s: ComposeService = { image };
  if (img.pull !== "missing") s["pull_policy"] = PULL[img.pull];
  if (img.pull === "newer")
    warn('pull: "newer" becomes "always"; compose has no pull that falls back to the cache');
  if (img.entrypoint) s["entrypoint"] = img.entrypoint.map(escape);
  if (img.cmd) s["command"] = img.cmd.map(escape);
  if (Object.keys(c.environment).length > 0) s["environment"] = sortedRecord(c.environment);
  if (c.environmentFiles.length > 0) s["env_file"] = [...c.environmentFiles];

  const volumes: unknown[] = [];
  const tmpfs: string[] = [];
  for (const m of c.mounts) {
    if (m.type === "tmpfs") {
      const opts = m.options.filter((o, i) => TMPFS_DEFAULT_OPTIONS[i] !== o);
      tmpfs.push(opts.length > 0 ? `${m.destination}:${opts.join(",")}` : m.destination);
    } else if (m.type === "bind") {
      const extra = m.options.filter((o) => !["rbind", "bind", "ro", "rw"].includes(o));
      if (extra.length > 0)
        warn(`${m.origin}: the mount options ${extra.join(",")} are not exported`);
      volumes.push(`${m.source}:${m.destination}${m.options.includes("ro") ? ":ro" : ""}`);
    } else warn(`${m.origin}: a ${m.type} mount has no compose form; not exported`);
  }
  if (volumes.length > 0) s["volumes"] = volumes;
  if (tmpfs.length > 0) s["tmpfs"] = tmpfs;

  if (c.ports.length > 0) s["ports"] = c.ports.map(formatPort);
  if (c.network === "host") s["network_mode"] = "host";
  else if (c.ports.length === 0) s["network_mode"] = "none";
  else
    warn(
      'network: "none" is not exported; the service joins the project network so that its ports are reachable',
    );

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
  if (c.devices.length > 0)
    s["devices"] = c.devices.map((d) => `${d.hostPath}:${d.path}:${d.access}`);

  s["restart"] = RESTART[c.restart];
  if (RESTART[c.restart] !== c.restart)
    warn(`restart: "${c.restart}" becomes "${RESTART[c.restart]}"; compose has no such policy`);
  if (!c.autoStart)
    warn("autoStart: false is not exported; compose up starts every service it is given");
  if (c.dependsOn.length > 0)
    s["depends_on"] = c.dependsOn.filter((d) => {
      if (config.containers[d]?.image) return true;
      warn(`dependsOn: ${d} is a host program and is not exported; the dependency is dropped`);
      return false;
    });
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

  if (img.file)
    warn(
      `imageFile: ${img.file} is not exported; push the image to a registry compose can pull from`,
    );
  if (img.login)
    warn(`login: credentials are not exported; run docker/podman login ${img.login.registry}`);
  if (c.backend !== "oci") warn(`backend: "${c.backend}" is host-specific; not exported`);
  if (c.serviceName !== `railyard-${c.name}.service`)
    warn(`serviceName: ${c.serviceName} is not exported; compose names its own containers`);
  return s;
}
