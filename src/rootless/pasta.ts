/**
 * Network "private" for rootless containers (`railyard --user`), with pasta (Debian's `passt`),
 * as podman 5 does: an unprivileged user cannot make veth links or nftables rules, so the
 * container's own network namespace is connected by pasta, a user-space network stack that
 * copies the host's addresses and routes into it and forwards the published ports. Pure.
 *
 * runc makes the namespace; a `createRuntime` hook (run by runc after the namespaces exist and
 * before the program starts) starts pasta on the container's pid, so the network is up before
 * the program runs. pasta then stays in the background in the service's cgroup, and goes with it.
 */
import { PASTA } from "../host/tools.js";
import { publishedIp, publishedPort, type PortSpec } from "../model/parse.js";
import type { ResolvedContainer } from "../model/types.js";

export interface OciHook {
  readonly path: string;
  readonly args?: readonly string[];
  readonly env?: readonly string[];
  readonly timeout?: number;
}

/** pasta's port specs (`ADDR/PORT:TARGET`), one option per port, or "none". */
function portOptions(flag: "-t" | "-u", ports: readonly PortSpec[]): string[] {
  const mine = ports.filter((p) => p.protocol === (flag === "-t" ? "tcp" : "udp"));
  if (mine.length === 0) return [flag, "none"];
  return mine.flatMap((p) => [flag, `${publishedIp(p)}/${publishedPort(p)}:${p.containerPort}`]);
}

/**
 * pasta's arguments for a container (its pid comes last, at start). Besides the published ports,
 * nothing is forwarded: not the ports the container binds (`-t`/`-u` default to all of them), not
 * the host's own ports back into it (`-T none -U none`), and the gateway address is not the
 * host's loopback (`--no-map-gw`). So a private container reaches the host and the outside only
 * as any other host on the network would, as it does as root.
 */
export function pastaArgs(c: Pick<ResolvedContainer, "ports">): string[] {
  return [
    PASTA,
    "--config-net",
    "--quiet",
    "--no-map-gw",
    "--ns-ifname",
    "eth0",
    "-T",
    "none",
    "-U",
    "none",
    ...portOptions("-t", c.ports),
    ...portOptions("-u", c.ports),
  ];
}

/**
 * The hook that connects the container's namespace: runc gives it the container's state on
 * stdin, with the pid of the container's first process, whose user and network namespaces
 * pasta joins. pasta forks to the background once the namespace is configured.
 */
export function pastaHook(c: Pick<ResolvedContainer, "ports">): OciHook {
  const words = pastaArgs(c).join(" ");
  return {
    path: "/bin/sh",
    args: [
      "sh",
      "-c",
      `pid=$(sed -n 's/.*"pid": *\\([0-9][0-9]*\\).*/\\1/p'); exec ${words} "$pid"`,
    ],
    timeout: 30,
  };
}
