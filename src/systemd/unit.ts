import type { ResolvedConfig, ResolvedContainer, RootlessScope } from "../model/types.js";
import {
  bootTarget,
  managerFlags,
  runDir,
  runtimeGlobalArgs,
  runtimeRoot,
} from "../rootless/scope.js";
import { containerId } from "../model/ids.js";
import { joinedOwner } from "../model/network.js";
import { loopback6Ports } from "../model/network.js";
import { proxySocket } from "./proxy.js";
import { secretUnitLines } from "../bundle/secrets.js";
import { envFileStart, envFileUnitLines, START_ENV_FILE } from "../bundle/env-files.js";
import { execQuote, shQuote } from "../util/quote.js";
import { MOUNT, UMOUNT, mountArgs, overlayTarget, type Overlay } from "../runtime/overlay.js";

export { execQuote, quoteWord, shQuote } from "../util/quote.js";

/** What a unit needs beyond the container's own config. */
export interface UnitInputs {
  /** Absolute path of the OCI runtime binary chosen at switch time. */
  readonly runtime: string;
  /** The stable bundle path the unit starts (through the `current` generation link). */
  readonly bundle: string;
  /**
   * The bundle's own, content-named directory. A container with environmentFiles starts from a
   * config composed at start, whose root runc wants by its real path (see env-files.ts).
   */
  readonly realBundle: string;
  readonly stopSignal: string;
  /**
   * The container's network script (network "private" or a named one): `up` builds its
   * namespace, link and published ports before the runtime starts, `down` removes them.
   */
  readonly networkScript?: string;
  /** A writable image root: mounted before the runtime starts, unmounted after it stops. */
  readonly overlay?: Overlay;
}

/** What names a container's files under the run dir: rootless scope, project, state dir scope. */
type RunScope = Pick<ResolvedConfig, "rootless" | "project" | "idScope">;

/**
 * A container's files under the run dir (PID file, health result) are named by its runtime id
 * where that is scoped (a project, a state dir of its own), so two projects' `db` never share
 * one; by the container's name where it is not, as they always were.
 */
const runFile = (name: string, id: string, rootless: RootlessScope | undefined, ext: string) =>
  `${runDir(rootless)}/${id === containerId(name) ? name : id}.${ext}`;

export const pidFile = (c: ResolvedContainer, config: RunScope): string =>
  runFile(c.name, containerId(c.name, config), config.rootless, "pid");

/** The runtime and its global flags (rootless: its state root), quoted for an Exec line. */
const runtimeExec = (runtime: string, scope?: RootlessScope): string =>
  [runtime, ...runtimeGlobalArgs(runtime, scope)].map(execQuote).join(" ");

/** systemd's CPUQuota= from a number of cores. */
const cpuQuota = (cpus: number) => `${Math.round(cpus * 100)}%`;

/**
 * The systemd unit of one container run directly by the OCI runtime. `runc run --detach` starts
 * the container and exits; its PID file makes the container's own init the service's main
 * process, so nothing else (no node, no runc, no conmon) stays resident. Pure and deterministic.
 */
export function renderUnit(config: ResolvedConfig, c: ResolvedContainer, u: UnitInputs): string {
  const id = containerId(c.name, config);
  const scope = config.rootless;
  const rt = runtimeExec(u.runtime, scope);
  const pid = runFile(c.name, id, scope, "pid");
  const deps = c.dependsOn.map((d) => config.containers[d]?.serviceName ?? `railyard-${d}.service`);
  const unit: string[] = [`Description=railyard container ${c.name}`];
  // A user manager has no network-online.target (it is the system manager's).
  if (c.network !== "none" && !scope)
    unit.push("Wants=network-online.target", "After=network-online.target");
  if (deps.length > 0) unit.push(`Requires=${deps.join(" ")}`, `After=${deps.join(" ")}`);
  unit.push(...joinedUnitLines(config, c));
  // A service that crashes now and then keeps being restarted; one that cannot start at all
  // (20 starts within a minute, with 2 s between them) is given up on.
  unit.push("StartLimitIntervalSec=60", "StartLimitBurst=20");
  // Then onFailure tells someone (see systemd/notify.ts).
  if (config.onFailure !== undefined)
    unit.push(`OnFailure=${onFailureUnit(c.name, config.idScope)}`);

  const net = u.networkScript === undefined ? undefined : execQuote(u.networkScript);
  // With environmentFiles, the runtime starts a config composed on /run (see env-files.ts).
  const program = `${config.stateDir}/current/${START_ENV_FILE}`;
  const envStart = envFileStart(c, id, u.realBundle, program, scope);
  const env = envStart ? { ...envFileUnitLines(envStart), bundle: envStart.bundle } : undefined;
  const service = [
    "Type=forking",
    `PIDFile=${pid}`,
    "RuntimeDirectory=railyard",
    "RuntimeDirectoryPreserve=yes",
    ...(net ? [`ExecStartPre=/bin/sh ${net} up`] : []),
    ...(u.overlay
      ? [`ExecStartPre=${[MOUNT, ...mountArgs(u.overlay, c.name)].map(execQuote).join(" ")}`]
      : []),
    ...secretUnitLines(config, c, id),
    ...(env ? env.pre : []),
    `ExecStart=${rt} run --detach --pid-file ${pid} --bundle ${execQuote(env?.bundle ?? u.bundle)} ${id}`,
    stopPostDelete(u.runtime, rt, id, scope),
    ...(env ? [env.post] : []),
    // Every image container of the system manager unmounts its overlay point on stop (only
    // they have one), also one whose root is read-only now: after a switch from a writable root,
    // the stop that runs is the new unit's, and it must still take the old overlay down.
    ...(c.image && !scope ? [`ExecStopPost=-${UMOUNT} ${execQuote(overlayTarget(id))}`] : []),
    ...(net ? [`ExecStopPost=-/bin/sh ${net} down`] : []),
    `KillSignal=${u.stopSignal}`,
    `TimeoutStopSec=${c.stopTimeout}`,
    `Restart=${c.restart}`,
    "RestartSec=2",
    // The runtime manages the container's sub-cgroup (device rules) under the service's cgroup.
    "Delegate=yes",
    `SyslogIdentifier=${c.name}`,
  ];
  // The ports on [::1]: systemd listens on them while the container runs (see proxy.ts).
  const proxies = loopback6Ports(c, config).map((p) => proxySocket(c, p));
  if (proxies.length > 0 && c.backend === "oci") unit.push(`Wants=${proxies.join(" ")}`);
  const h = c.healthcheck;
  if (h) {
    // Ready only once healthy: the start job (and every unit ordered after this one) waits for
    // the first passing check, up to the start period plus `retries` intervals.
    unit.push(`Wants=${healthUnits(c).timer}`);
    service.push(
      `ExecStartPost=/bin/sh -c ${execQuote(readinessScript({ c, runtime: u.runtime, scope, id }))}`,
      `TimeoutStartSec=${Math.ceil((h.startPeriod + h.retries * h.interval + h.timeout) / 1000) + 30}`,
    );
  }
  if (c.resources.memory !== undefined) service.push(`MemoryMax=${c.resources.memory}`);
  if (c.resources.cpus !== undefined) service.push(`CPUQuota=${cpuQuota(c.resources.cpus)}`);
  if (c.resources.pids !== undefined) service.push(`TasksMax=${c.resources.pids}`);

  return assembleUnit(c, unit, service, scope);
}

/**
 * A container that joins another's network namespace starts after it (its unit makes the
 * namespace), stops when it stops, and restarts when it restarts: the namespace is new then.
 */
export function joinedUnitLines(config: ResolvedConfig, c: ResolvedContainer): string[] {
  const owner = joinedOwner(c);
  if (owner === undefined) return [];
  const unit = config.containers[owner]?.serviceName ?? `railyard-${owner}.service`;
  return [`BindsTo=${unit}`, `After=${unit}`, `PartOf=${unit}`];
}

/**
 * The template unit that runs `onFailure` (systemd/notify.ts renders it). Each project has its
 * own command, so a state dir other than the default has its own template, named with its id
 * scope, as its runtime ids are.
 */
export const onFailureTemplate = (idScope?: string): string =>
  `railyard-on-failure${idScope ? `-${idScope}` : ""}@.service`;

/** The instance of the template that reports container `name`. */
export const onFailureUnit = (name: string, idScope?: string): string =>
  onFailureTemplate(idScope).replace("@.", `@${name}.`);

/**
 * The part of a unit that decides whether a switch restarts its service: all of it but
 * `OnFailure=`, a dependency systemd takes up at daemon-reload without a restart (so setting
 * `onFailure` restarts nobody).
 */
export const restartRelevant = (unit: string): string => unit.replace(/^OnFailure=.*\n/gm, "");

/**
 * `runtime delete --force` after every stop. runc (as root) bind-mounts a copy of its own binary
 * at `/run/runc/ID/runc.XXXXXX` while a container starts; a start killed half way (a restart of
 * a crash-looping service lands in one) leaves that mount, and then the delete fails with
 * "device or resource busy" and every later start with "container with given ID already
 * exists". So the stop unmounts any such leftover first; on the stop path, never the start's.
 */
function stopPostDelete(
  runtime: string,
  rt: string,
  id: string,
  scope: RootlessScope | undefined,
): string {
  if (scope || !/(^|\/)runc$/.test(runtime)) return `ExecStopPost=-${rt} delete --force ${id}`;
  const script = `umount ${runtimeRoot(runtime)}/${id}/runc.* 2>/dev/null; exec ${shQuote(runtime)} delete --force ${id}`;
  return `ExecStopPost=-/bin/sh -c ${execQuote(script)}`;
}

/** The unit file around its [Unit] and [Service] lines: the header, and [Install] for autoStart. */
export function assembleUnit(
  c: ResolvedContainer,
  unit: readonly string[],
  service: readonly string[],
  scope?: RootlessScope,
): string {
  const lines = [
    "# Generated by railyard. Do not edit: change the railyard config and run railyard switch.",
    "[Unit]",
    ...unit,
    "",
    "[Service]",
    ...service,
  ];
  if (c.autoStart) lines.push("", "[Install]", `WantedBy=${bootTarget(scope)}`);
  return `${lines.join("\n")}\n`;
}

/** The file where a container's checks leave their result ("healthy" or "unhealthy N"). */
export const healthFile = (name: string, config: RunScope): string =>
  runFile(name, containerId(name, config), config.rootless, "health");

/** The two units that check a container's health while it runs. */
export function healthUnits(c: ResolvedContainer): { service: string; timer: string } {
  const base = c.serviceName.replace(/\.service$/, "");
  return { service: `${base}-health.service`, timer: `${base}-health.timer` };
}

/** What a container's health scripts are about: the container, its runtime, its id. */
interface HealthTarget {
  readonly c: ResolvedContainer;
  readonly runtime: string;
  readonly scope: RootlessScope | undefined;
  readonly id: string;
}

/** The healthcheck, where its result goes, and one run of it (`runc exec`, killed at `timeout`). */
function healthParts({ c, runtime, scope, id }: HealthTarget) {
  const h = c.healthcheck as NonNullable<ResolvedContainer["healthcheck"]>;
  const argv = typeof h.test === "string" ? ["/bin/sh", "-c", h.test] : [...h.test];
  const secs = Math.max(1, Math.ceil(h.timeout / 1000));
  const rt = [runtime, ...runtimeGlobalArgs(runtime, scope)];
  const check = ["timeout", "-s", "KILL", String(secs), ...rt, "exec", id, ...argv]
    .map(shQuote)
    .join(" ");
  return { h, f: runFile(c.name, id, scope, "health"), check };
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

function readinessScript(t: HealthTarget): string {
  const { h, f, check } = healthParts(t);
  const deadline = seconds(h.startPeriod + h.retries * h.interval);
  return (
    `echo starting > ${f}; end=$(($(date +%s) + ${deadline})); ` +
    `until ${check} >/dev/null 2>&1; do ` +
    // A container that died while starting fails the start now, not at the deadline.
    `if [ "$(date +%s)" -ge "$end" ] || ! kill -0 "$MAINPID" 2>/dev/null; then echo unhealthy > ${f}; exit 1; fi; ` +
    `sleep ${seconds(h.interval)}; done; ` +
    `echo healthy > ${f}`
  );
}

function checkScript(t: HealthTarget): string {
  const { h, f, check } = healthParts(t);
  const { c, scope } = t;
  const systemctl = ["systemctl", ...managerFlags(scope)].join(" ");
  // Each change is a journal line (railyard events shows them): a failed check, and the first
  // passing one after failures.
  return (
    `if ${check} >/dev/null 2>&1; then ` +
    `if grep -q '^unhealthy' ${f} 2>/dev/null; then echo "${c.name}: healthy again"; fi; echo healthy > ${f}; exit 0; fi; ` +
    `n=$(($(sed -n 's/^unhealthy //p' ${f} 2>/dev/null || true) + 1)); echo "unhealthy $n" > ${f}; ` +
    `echo "${c.name}: check failed ($n of ${h.retries})"; ` +
    `if [ "$n" -ge ${h.retries} ]; then echo "${c.name}: ${h.retries} failed checks in a row, restarting"; ` +
    `${systemctl} --no-block restart ${c.serviceName}; fi; exit 1`
  );
}

/**
 * The timer and the oneshot service that run a container's healthcheck every `interval` while
 * it runs: each check is a `runc exec` (no resident process), and `retries` failures in a row
 * restart the container's service. The service's `Wants=` starts the timer; `PartOf=` stops it.
 */
export function renderHealthUnits(
  c: ResolvedContainer,
  runtime: string,
  scope?: RootlessScope,
  id: string = containerId(c.name),
): Readonly<Record<string, string>> {
  const h = c.healthcheck;
  if (!h) return {};
  const names = healthUnits(c);
  const header =
    "# Generated by railyard. Do not edit: change the railyard config and run railyard switch.";
  const service = [
    header,
    "[Unit]",
    `Description=railyard healthcheck of ${c.name}`,
    `Requisite=${c.serviceName}`,
    `After=${c.serviceName}`,
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=/bin/sh -c ${execQuote(checkScript({ c, runtime, scope, id }))}`,
    `SyslogIdentifier=${c.name}-health`,
    "",
  ];
  const timer = [
    header,
    "[Unit]",
    `Description=railyard healthcheck timer of ${c.name}`,
    `PartOf=${c.serviceName}`,
    `After=${c.serviceName}`,
    "",
    "[Timer]",
    `OnActiveSec=${seconds(h.interval)}`,
    `OnUnitActiveSec=${seconds(h.interval)}`,
    "AccuracySec=1",
    `Unit=${names.service}`,
    "",
  ];
  return { [names.service]: service.join("\n"), [names.timer]: timer.join("\n") };
}
