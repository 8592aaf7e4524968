import { engineName } from "../model/ids.js";
import { effectiveCapabilities } from "../model/capabilities.js";
import type { ResolvedConfig, ResolvedContainer } from "../model/types.js";
import { assembleUnit, execQuote } from "./unit.js";

/**
 * Units for the docker and podman backends, shaped like the ones NixOS's oci-containers module
 * generates: idempotent before start (rm -f of the old container), --name, --user, -v, journald
 * logging, a graceful stop, and never a pull at start (the image is pulled at switch time and
 * named by its locked digest). Pure and deterministic.
 */
export interface EngineUnitInputs {
  /** Absolute path of the docker or podman binary. */
  readonly engine: string;
  /** The image by digest, e.g. "docker.io/library/busybox@sha256:...". */
  readonly image: string;
  /** Set only when the config sets it; otherwise the engine applies the image's StopSignal. */
  readonly stopSignal?: string;
}

function runArgs(
  name: string,
  c: ResolvedContainer,
  u: EngineUnitInputs,
  podman: boolean,
): string[] {
  const a = ["run", "--rm", `--name=${name}`, "--log-driver=journald", "--pull=never"];
  if (podman)
    a.push(
      `--cidfile=/run/railyard/${name}.ctr-id`,
      "--cgroups=no-conmon",
      "--sdnotify=conmon",
      "--replace",
      "-d",
    );
  if (c.user) a.push(`--user=${c.user.uid}:${c.user.gid}`);
  else if (c.userSpec) a.push(`--user=${c.userSpec}`);
  if (c.workdir) a.push(`--workdir=${c.workdir}`);
  // "private" (an image's default: a way out, nothing in) is the engine's default bridge.
  a.push(`--hostname=${c.hostname}`, `--network=${c.network === "private" ? "bridge" : c.network}`);
  if (c.readonly) a.push("--read-only");
  for (const f of c.environmentFiles) a.push(`--env-file=${f}`);
  for (const [k, v] of Object.entries(c.environment).sort(([x], [y]) => (x < y ? -1 : 1)))
    a.push("-e", `${k}=${v}`);
  for (const m of c.mounts) {
    if (m.type === "tmpfs")
      a.push(`--tmpfs=${m.destination}${m.options.length > 0 ? `:${m.options.join(",")}` : ""}`);
    else a.push("-v", `${m.source}:${m.destination}${m.options.includes("ro") ? ":ro" : ""}`);
  }
  for (const d of c.devices) a.push(`--device=${d.hostPath}:${d.path}:${d.access}`);
  // Both engines resolve CDI names themselves (podman always, docker with CDI enabled).
  for (const d of c.cdiDevices) a.push(`--device=${d}`);
  for (const [k, v] of Object.entries(c.sysctls)) a.push(`--sysctl=${k}=${v}`);
  if (c.init) a.push("--init");
  // The same floor as runc's bundles: exactly railyard's capabilities (the engines' own default
  // set is larger), no new privileges, and a seccomp filter (the engine's default one is of the
  // same strength as railyard's).
  a.push("--cap-drop=ALL", ...effectiveCapabilities(c).map((cap) => `--cap-add=${cap}`));
  a.push("--security-opt=no-new-privileges");
  if (c.seccomp !== "default") a.push(`--security-opt=seccomp=${c.seccomp}`);
  for (const [k, v] of Object.entries(c.labels).sort(([x], [y]) => (x < y ? -1 : 1)))
    a.push(`--label=${k}=${v}`);
  if (c.resources.memory !== undefined) a.push(`--memory=${c.resources.memory}`);
  if (c.resources.cpus !== undefined) a.push(`--cpus=${c.resources.cpus}`);
  if (c.resources.pids !== undefined) a.push(`--pids-limit=${c.resources.pids}`);
  if (u.stopSignal) a.push(`--stop-signal=${u.stopSignal}`);
  a.push(`--stop-timeout=${c.stopTimeout}`);
  // docker takes one word for --entrypoint; the rest of the entrypoint goes before the command.
  const [ep, ...epArgs] = c.image?.entrypoint ?? [];
  if (ep !== undefined) a.push(`--entrypoint=${ep}`);
  a.push(u.image, ...epArgs, ...(c.image?.cmd ?? []));
  return a;
}

export function renderEngineUnit(
  config: ResolvedConfig,
  c: ResolvedContainer,
  u: EngineUnitInputs,
): string {
  const podman = c.backend === "podman";
  const e = execQuote(u.engine);
  const name = engineName(c.name, config);
  const deps = c.dependsOn.map((d) => config.containers[d]?.serviceName ?? `railyard-${d}.service`);
  const unit = [
    `Description=railyard container ${c.name} (${c.backend})`,
    "Wants=network-online.target",
    "After=network-online.target",
  ];
  if (!podman) unit.push("Requires=docker.service", "After=docker.service");
  if (deps.length > 0) unit.push(`Requires=${deps.join(" ")}`, `After=${deps.join(" ")}`);
  unit.push("StartLimitIntervalSec=60", "StartLimitBurst=20");
  const cid = `/run/railyard/${name}.ctr-id`;
  const service = podman
    ? [
        "Type=notify",
        "NotifyAccess=all",
        "Environment=PODMAN_SYSTEMD_UNIT=%n",
        "RuntimeDirectory=railyard",
        "RuntimeDirectoryPreserve=yes",
        // As podman generate systemd --new does: a cidfile left by a failed start blocks the next.
        `ExecStartPre=/bin/rm -f ${cid}`,
        `ExecStartPre=-${e} rm -f --ignore ${name}`,
        `ExecStart=${e} ${runArgs(name, c, u, true).map(execQuote).join(" ")}`,
        `ExecStop=${e} stop --ignore -t ${c.stopTimeout} --cidfile=${cid}`,
        `ExecStopPost=-${e} rm -f --ignore --cidfile=${cid}`,
      ]
    : [
        "Type=simple",
        `ExecStartPre=-${e} rm -f ${name}`,
        `ExecStart=${e} ${runArgs(name, c, u, false).map(execQuote).join(" ")}`,
        `ExecStop=${e} stop -t ${c.stopTimeout} ${name}`,
        `ExecStopPost=-${e} rm -f ${name}`,
      ];
  service.push(
    `TimeoutStopSec=${c.stopTimeout + 10}`,
    `Restart=${c.restart}`,
    "RestartSec=2",
    `SyslogIdentifier=${c.name}`,
  );
  return assembleUnit(c, unit, service);
}
