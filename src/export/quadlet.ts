/**
 * railyard config -> Podman Quadlet `.container` files (pure). One file per image container; the
 * [Container] keys are Podman 5's (podman-container.unit(5)), [Unit]/[Service]/[Install] pass to
 * systemd as written. Whatever Quadlet cannot say is named in `warnings`.
 */
import { effectiveCapabilities } from "../bundle/spec.js";
import { formatDuration, formatPort, formatSize } from "../config/parse.js";
import type { ResolvedConfig, ResolvedContainer } from "../config/types.js";
import type { ExportResult } from "./kubernetes.js";

export interface QuadletFile {
  /** `NAME.container`: Quadlet turns it into `NAME.service`. */
  readonly name: string;
  readonly text: string;
}

/** One word of a value Quadlet splits into words (Exec=, PodmanArgs=): systemd's quoting, `%` doubled. */
export function quadletWord(word: string): string {
  const escaped = word.replace(/%/g, "%%");
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return escaped;
  return `"${escaped.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

const words = (ws: readonly string[]) => ws.map(quadletWord).join(" ");

export function toQuadlet(
  config: ResolvedConfig,
  images: Readonly<Record<string, string>>,
): ExportResult<QuadletFile[]> {
  const warnings: string[] = [];
  const files: QuadletFile[] = [];
  for (const name of Object.keys(config.containers).sort()) {
    const c = config.containers[name] as ResolvedContainer;
    if (!c.image) {
      warnings.push(
        `containers.${name}: a host program (args) has no image, so Quadlet cannot run it; not exported`,
      );
      continue;
    }
    const warn = (m: string) => warnings.push(`containers.${name}.${m}`);
    files.push({
      name: `${name}.container`,
      text: render(c, images[name] ?? c.image.ref, config, warn),
    });
  }
  return { output: files, warnings };
}

function render(
  c: ResolvedContainer,
  image: string,
  config: ResolvedConfig,
  warn: (m: string) => void,
): string {
  const img = c.image as NonNullable<ResolvedContainer["image"]>;
  const unit: string[] = [`Description=railyard container ${c.name}`];
  for (const d of c.dependsOn) {
    if (!config.containers[d]?.image) {
      warn(`dependsOn: ${d} is a host program and is not exported; the dependency is dropped`);
      continue;
    }
    unit.push(`Requires=${d}.service`, `After=${d}.service`);
  }

  const k: string[] = [`Image=${image}`];
  k.push(`Pull=${img.pull}`);
  if (img.entrypoint)
    k.push(
      `Entrypoint=${img.entrypoint.length === 1 ? img.entrypoint[0] : JSON.stringify(img.entrypoint)}`,
    );
  if (img.cmd) k.push(`Exec=${words(img.cmd)}`);
  for (const [key, v] of Object.entries(c.environment).sort(([a], [b]) => (a < b ? -1 : 1)))
    k.push(`Environment=${quadletWord(`${key}=${v}`)}`);
  for (const f of c.environmentFiles) k.push(`EnvironmentFile=${f}`);
  for (const m of c.mounts) {
    if (m.type === "bind")
      k.push(`Volume=${m.source}:${m.destination}${m.options.includes("ro") ? ":ro" : ""}`);
    else if (m.type === "tmpfs") {
      const opts = m.options.join(",");
      k.push(`Tmpfs=${m.destination}${opts ? `:${opts}` : ""}`);
    } else warn(`${m.origin}: a ${m.type} mount has no Quadlet form; not exported`);
  }
  for (const p of c.ports) k.push(`PublishPort=${formatPort(p)}`);
  if (c.network === "host") k.push("Network=host");
  else if (c.ports.length === 0) k.push("Network=none");
  else
    warn(
      'network: "none" is not exported; the container joins podman\'s default network so that its ports are reachable',
    );
  if (c.user) k.push(`User=${c.user.uid}`, `Group=${c.user.gid}`);
  else if (c.userSpec !== undefined) {
    const [user, group] = c.userSpec.split(":");
    k.push(`User=${user}`, ...(group ? [`Group=${group}`] : []));
  }
  if (c.workdir !== undefined) k.push(`WorkingDir=${c.workdir}`);
  k.push(`HostName=${c.hostname}`);
  k.push(`ReadOnly=${c.readonly}`);
  k.push("DropCapability=all");
  k.push(`AddCapability=${effectiveCapabilities(c).join(" ")}`);
  k.push("NoNewPrivileges=true");
  if (c.seccomp !== "default") k.push(`SeccompProfile=${c.seccomp}`);
  for (const d of c.devices) k.push(`AddDevice=${d.hostPath}:${d.path}:${d.access}`);
  if (c.stopSignal !== undefined) k.push(`StopSignal=${c.stopSignal}`);
  k.push(`StopTimeout=${c.stopTimeout}`);
  if (c.resources.memory !== undefined) k.push(`Memory=${formatSize(c.resources.memory)}`);
  if (c.resources.pids !== undefined) k.push(`PidsLimit=${c.resources.pids}`);
  // Quadlet has no key for a CPU limit; PodmanArgs passes podman run's own flag.
  if (c.resources.cpus !== undefined) k.push(`PodmanArgs=--cpus=${c.resources.cpus}`);
  const h = c.healthcheck;
  if (h) {
    // podman reads a JSON array as the exec form and anything else as a shell command.
    k.push(
      `HealthCmd=${typeof h.test === "string" ? h.test : JSON.stringify(["CMD", ...h.test])}`,
      `HealthInterval=${formatDuration(h.interval)}`,
      `HealthTimeout=${formatDuration(h.timeout)}`,
      `HealthRetries=${h.retries}`,
      `HealthStartPeriod=${formatDuration(h.startPeriod)}`,
    );
  }
  for (const [key, v] of Object.entries(c.labels).sort(([a], [b]) => (a < b ? -1 : 1)))
    k.push(`Annotation=${quadletWord(`${key}=${v}`)}`);

  // systemd's Restart= is railyard's restart, value for value.
  const service = [`Restart=${c.restart}`, `TimeoutStopSec=${c.stopTimeout + 30}`];
  const install = c.autoStart ? ["[Install]", "WantedBy=multi-user.target default.target", ""] : [];

  if (img.file)
    warn(
      `imageFile: ${img.file} is not exported; push the image to a registry podman can pull from`,
    );
  if (img.login)
    warn(`login: credentials are not exported; run podman login ${img.login.registry}`);
  if (c.backend !== "oci") warn(`backend: "${c.backend}" is host-specific; not exported`);
  if (c.serviceName !== `railyard-${c.name}.service`)
    warn(
      `serviceName: Quadlet names the unit ${c.name}.service after the file, not ${c.serviceName}`,
    );

  return [
    `# ${c.name}.container: written by railyard export quadlet (Podman 5 Quadlet)`,
    "[Unit]",
    ...unit,
    "",
    "[Container]",
    ...k,
    "",
    "[Service]",
    ...service,
    "",
    ...install,
  ].join("\n");
}
