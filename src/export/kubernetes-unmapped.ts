/**
 * What of a container Kubernetes has no place for, or takes otherwise: each named in a warning
 * with what to do instead (pure).
 */
import type { ResolvedContainer } from "../model/types.js";
import { warnHostSpecific } from "./common.js";

/** The sysctls a kubelet allows without --allowed-unsafe-sysctls (Kubernetes 1.29+). */
const KUBERNETES_SAFE_SYSCTLS = [
  "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
]; // prettier-ignore

export function warnUnmapped(c: ResolvedContainer, warn: (m: string) => void): void {
  const at = `containers.${c.name}`;
  if (c.resources.pids !== undefined)
    warn(`${at}.resources.pids: Kubernetes has no per-container process limit; not exported`);
  if (c.devices.length > 0) warn(`${at}.devices: host devices are not exported`);
  if (c.shmSize !== undefined)
    warn(
      `${at}.shmSize: not exported; mount an emptyDir with medium Memory and a sizeLimit at /dev/shm`,
    );
  if (c.ulimits)
    warn(`${at}.ulimits: not exported; Kubernetes has no rlimits per pod (the runtime's apply)`);
  if (c.cdiDevices.length > 0)
    warn(
      `${at}.devices: CDI devices (${c.cdiDevices.join(", ")}) are not exported; request them as the cluster's device plugin names them (e.g. resources.limits nvidia.com/gpu: 1)`,
    );
  if (c.init)
    warn(
      `${at}.init: not exported; Kubernetes has no init per container (shareProcessNamespace makes the pause process PID 1)`,
    );
  const unsafe = Object.keys(c.sysctls).filter((k) => !KUBERNETES_SAFE_SYSCTLS.includes(k));
  if (unsafe.length > 0)
    warn(
      `${at}.sysctls: ${unsafe.join(", ")} ${unsafe.length === 1 ? "is" : "are"} not among Kubernetes' safe sysctls; the kubelet must allow ${unsafe.length === 1 ? "it" : "them"} (--allowed-unsafe-sysctls)`,
    );
  if (c.restart !== "always")
    warn(
      `${at}.restart: "${c.restart}" is not exported; a Deployment's pods always restart (restartPolicy Always)`,
    );
  if (c.stopSignal !== undefined && c.stopSignal !== "SIGTERM")
    warn(`${at}.stopSignal: ${c.stopSignal} is not exported; Kubernetes sends SIGTERM`);
  if (!c.autoStart) warn(`${at}.autoStart: false is not exported; the Deployment runs 1 replica`);
  if (c.userSpec !== undefined)
    warn(
      `${at}.user: "${c.userSpec}" is a name; Kubernetes needs numeric ids (runAsUser), so the image's user applies`,
    );
  warnHostSpecific(
    c,
    (r) => `create an imagePullSecret for ${r}`,
    warn,
    "push it to a registry the cluster pulls from and name that image",
  );
  if (c.seccomp !== "default" && c.seccomp !== "unconfined")
    warn(
      `${at}.seccomp: ${c.seccomp} is not exported; the pod gets the runtime's default profile (copy the file to each node for type Localhost)`,
    );
}
