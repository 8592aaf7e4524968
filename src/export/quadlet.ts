/**
 * railyard config -> Podman Quadlet `.container` files (pure). One file per image container; the
 * [Container] keys are Podman 5's (podman-container.unit(5)), [Unit]/[Service]/[Install] pass to
 * systemd as written. Whatever Quadlet cannot say is named in `warnings`.
 */
import { effectiveCapabilities } from "../bundle/spec.js";
import { quoteWord } from "../systemd/unit.js";
import { formatDuration, formatPort, formatSize } from "../config/parse.js";
import type { ResolvedConfig, ResolvedContainer } from "../config/types.js";
import {
  exportedDependencies,
  imageContainers,
  sortedEntries,
  warnHostSpecific,
  type ExportResult,
} from "./common.js";

export interface QuadletFile {
  /** `NAME.container`: Quadlet turns it into `NAME.service`. */
  readonly name: string;
  readonly text: string;
}

/**
 * One word of a value Quadlet splits into words (Exec=, Environment=): systemd's quoting, with
 * `$` left as it is (Quadlet re-quotes the words for the unit it generates).
 */
export const quadletWord = (word: string): string => quoteWord(word, false);

const words = (ws: readonly string[]) => ws.map(quadletWord).join(" ");

export function toQuadlet(
  config: ResolvedConfig,
  images: Readonly<Record<string, string>>,
): ExportResult<QuadletFile[]> {
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  const files = imageContainers(config, "Quadlet", warn).map((c) => ({
    name: `${c.name}.container`,
    text: render(c, images[c.name] ?? (c.image?.ref as string), config, warn),
  }));
  return { output: files, warnings };
}

function render(
  c: ResolvedContainer,
  image: string,
  config: ResolvedConfig,
  warn: (m: string) => void,
): string {
  const here = (m: string) => warn(`containers.${c.name}.${m}`);
  const img = c.image as NonNullable<ResolvedContainer["image"]>;
  const unit: string[] = [`Description=railyard container ${c.name}`];
  for (const d of exportedDependencies(config, c, warn))
    unit.push(`Requires=${d}.service`, `After=${d}.service`);

  const k: string[] = [`Image=${image}`];
  k.push(`Pull=${img.pull}`);
  if (img.entrypoint)
    k.push(
      `Entrypoint=${img.entrypoint.length === 1 ? img.entrypoint[0] : JSON.stringify(img.entrypoint)}`,
    );
  if (img.cmd) k.push(`Exec=${words(img.cmd)}`);
  for (const [key, v] of sortedEntries(c.environment))
    k.push(`Environment=${quadletWord(`${key}=${v}`)}`);
  for (const f of c.environmentFiles) k.push(`EnvironmentFile=${f}`);
  for (const m of c.mounts) {
    if (m.type === "bind")
      k.push(`Volume=${m.source}:${m.destination}${m.options.includes("ro") ? ":ro" : ""}`);
    else if (m.type === "tmpfs") {
      const opts = m.options.join(",");
      k.push(`Tmpfs=${m.destination}${opts ? `:${opts}` : ""}`);
    } else here(`${m.origin}: a ${m.type} mount has no Quadlet form; not exported`);
  }
  for (const p of c.ports) k.push(`PublishPort=${formatPort(p)}`);
  if (c.network === "host") k.push("Network=host");
  else if (c.ports.length === 0) k.push("Network=none");
  else
    here(
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
  for (const [key, v] of sortedEntries(c.labels))
    k.push(`Annotation=${quadletWord(`${key}=${v}`)}`);

  // systemd's Restart= is railyard's restart, value for value.
  const service = [`Restart=${c.restart}`, `TimeoutStopSec=${c.stopTimeout + 30}`];
  const install = c.autoStart ? ["[Install]", "WantedBy=multi-user.target default.target", ""] : [];

  warnHostSpecific(c, (r) => `run podman login ${r}`, warn);
  if (c.serviceName !== `railyard-${c.name}.service`)
    here(
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
