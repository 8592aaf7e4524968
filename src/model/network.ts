/**
 * What a container's network is, read off the resolved config: which networks are built in, whom
 * a container joins, which named networks it is on, the address pools. Pure; the allocation of
 * addresses and the scripts that set networks up are network/'s.
 */
import type { PortSpec } from "./parse.js";
import type { ResolvedAttachment, ResolvedConfig, ResolvedContainer } from "./types.js";
import { parseIPv4, type Subnet } from "./address.js";

/** Network "private": each container gets a /31 of this pool, the host holds the other half. */
export const PRIVATE_POOL: Subnet = { base: parseIPv4("10.90.0.0") as number, prefix: 16 };
/** Named networks without a `subnet` get the first free /24 of this pool. */
export const NAMED_POOL: Subnet = { base: parseIPv4("10.91.0.0") as number, prefix: 16 };
export const NAMED_DEFAULT_PREFIX = 24;

/** The networks every config has; the others are declared under `networks`. */
export const BUILTIN_NETWORKS: readonly string[] = ["none", "host", "private"];

/** `network: "container:NAME"`: the container whose network namespace this one joins. */
export const joinedOwner = (c: Pick<ResolvedContainer, "network">): string | undefined =>
  c.network.startsWith("container:") ? c.network.slice("container:".length) : undefined;

/**
 * The named networks a container is on, its first network first. A generation written before
 * containers had `networks` says it with `network` alone: a name that is neither built in nor
 * `container:NAME` (resolveConfig let no other through).
 */
export function attachmentsOf(
  c: Pick<ResolvedContainer, "network"> & { readonly networks?: readonly ResolvedAttachment[] },
): readonly ResolvedAttachment[] {
  if (c.networks !== undefined) return c.networks;
  return BUILTIN_NETWORKS.includes(c.network) || joinedOwner(c) !== undefined
    ? []
    : [{ name: c.network, aliases: [] }];
}

/** Whether a container's first network is dual stack (a named network with `ipv6`). */
export function isDualStack(
  c: Pick<ResolvedContainer, "network"> & { readonly networks?: readonly ResolvedAttachment[] },
  config: Pick<ResolvedConfig, "networks">,
): boolean {
  const first = attachmentsOf(c)[0];
  return first !== undefined && config.networks[first.name]?.ipv6 !== undefined;
}

/**
 * The ports a container serves on the host's IPv6 loopback, [::1], through systemd's sockets:
 * those published there, and on a dual-stack network every TCP port published without an address
 * (loopback in both families). The kernel cannot forward a packet from ::1 to another host (IPv6
 * has no route_localnet), so these go through systemd-socket-proxyd (see systemd/proxy.ts); TCP
 * only. None rootless: pasta binds [::1] itself, as it binds every published port.
 */
export function loopback6Ports(
  c: Pick<ResolvedContainer, "network" | "ports"> & {
    readonly networks?: readonly ResolvedAttachment[];
  },
  config: Pick<ResolvedConfig, "networks" | "rootless">,
): PortSpec[] {
  if (config.rootless) return [];
  const dual = isDualStack(c, config);
  return c.ports.filter(
    (p) => p.hostIp === "::1" || (dual && p.hostIp === undefined && p.protocol === "tcp"),
  );
}

/** Networks whose containers get their own namespace, address and published ports. */
export const isPrivateOrNamed = (c: ResolvedContainer): boolean =>
  c.network !== "none" && c.network !== "host" && joinedOwner(c) === undefined;
