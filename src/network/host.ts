/** Build-time checks that this host can run railyard's networks. I/O. */
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { formatPublished, publishedPort } from "../model/parse.js";
import type { ResolvedConfig, ResolvedContainer } from "../model/types.js";
import { PASTA } from "../host/tools.js";
import { NetworkError } from "../errors.js";
import { hostProbe } from "../host/detect.js";
import {
  formatSubnet,
  overlaps,
  parseIPv4,
  parseProcRoute,
  type HostRoute,
  type Subnet,
} from "../model/address.js";
import { parseAllocatedSubnet, type NetworkAllocation } from "./allocate.js";
import { loopback6Ports } from "../model/network.js";
import { SOCKET_PROXYD } from "../host/tools.js";
import { ownInterfaces } from "./script.js";
import { isPrivateOrNamed } from "../model/network.js";

/** Interfaces railyard makes: bridges ("ry-NAME", "ryb-...") and links ("ryv-..."). */
const RAILYARD_IF = /^ry[bv]?-/;

/**
 * The host's routes on interfaces this project does not make: its LAN, VPNs, docker's bridge,
 * and other railyard projects' networks. Their subnets are not free for this one. Empty when
 * /proc/net/route cannot be read.
 */
export function foreignRoutes(config: ResolvedConfig): HostRoute[] {
  const own = ownInterfaces(config);
  try {
    return parseProcRoute(readFileSync("/proc/net/route", "utf8")).filter((r) => !own.has(r.iface));
  } catch {
    return [];
  }
}

/**
 * Rootless, a private network needs pasta, and a published port below the host's
 * `net.ipv4.ip_unprivileged_port_start` cannot be bound by a user.
 */
function checkPasta(users: readonly ResolvedContainer[], havePasta: boolean): void {
  const first = users[0] as ResolvedContainer;
  if (!havePasta)
    throw new NetworkError(
      `containers.${first.name}.network: network "private" runs rootless with pasta, which is not installed. install it: apt-get install passt`,
      first.network,
    );
  // pasta opens it in the container's namespace as the user; Debian's udev makes it 0666.
  try {
    accessSync("/dev/net/tun", constants.R_OK | constants.W_OK);
  } catch {
    throw new NetworkError(
      `containers.${first.name}.network: network "private" runs rootless with pasta, which needs /dev/net/tun, and this user cannot open it. make it usable by every user, as Debian's udev rules do: chmod 0666 /dev/net/tun`,
      first.network,
    );
  }
  let start = 1024;
  try {
    start = Number(readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8").trim());
  } catch {
    // the kernel's default
  }
  for (const c of users)
    c.ports.forEach((p) => {
      if (publishedPort(p) < start)
        throw new NetworkError(
          `containers.${c.name}.ports: ${formatPublished(p)} is below ${start}, the first port a user may bind (net.ipv4.ip_unprivileged_port_start). publish on ${start} or above, or lower that sysctl`,
          c.network,
        );
    });
}

/**
 * Refuse a build whose networks this host cannot run: `ip` or `nft` missing, or a subnet that one
 * of the host's `routes` elsewhere (foreignRoutes: a LAN, a VPN, docker's bridge, another
 * project's network) already covers, where traffic would go astray. Nothing to check when no
 * container has a network of its own.
 */
export function checkNetworkHost(
  config: ResolvedConfig,
  alloc: NetworkAllocation,
  env: NodeJS.ProcessEnv,
  routes: readonly HostRoute[],
): void {
  const users = Object.values(config.containers).filter(
    (c) => c.backend === "oci" && isPrivateOrNamed(c),
  );
  const first = users[0];
  if (!first) return;
  if (config.rootless) return checkPasta(users, existsSync(PASTA));
  const probe = hostProbe(env);
  for (const [tool, pkg] of [
    ["ip", "iproute2"],
    ["nft", "nftables"],
  ] as const)
    if (!probe.which(tool))
      throw new NetworkError(
        `containers.${first.name}.network: ${JSON.stringify(first.network)} needs ${tool}, which is not installed. install it: apt-get install ${pkg}`,
        first.network,
      );
  const proxied = users.find((c) => loopback6Ports(c, config).length > 0);
  if (proxied && !existsSync(SOCKET_PROXYD))
    throw new NetworkError(
      `containers.${proxied.name}.ports: ports on [::1] are served by ${SOCKET_PROXYD}, which is not installed (it is part of systemd). install systemd 246 or later, or publish on 127.0.0.1 only`,
      proxied.network,
    );
  const used: [string, Subnet][] = [];
  // Each private container's own /31 (the rest of the pool may be another project's).
  for (const [name, a] of Object.entries(alloc.private)) {
    const n = parseIPv4(a);
    if (n !== undefined)
      used.push([`containers.${name} (network "private")`, { base: n - 1, prefix: 31 }]);
  }
  for (const [name, n] of Object.entries(alloc.networks))
    if (users.some((c) => c.networks.some((a) => a.name === name)))
      used.push([`networks.${name}`, parseAllocatedSubnet(n.subnet)]);
  for (const [where, s] of used) {
    const r = routes.find((r) => overlaps(r.subnet, s));
    if (r)
      throw new NetworkError(
        `${where}: its addresses ${formatSubnet(s)} overlap the host's route to ${formatSubnet(r.subnet)} on ${r.iface}` +
          (RAILYARD_IF.test(r.iface) ? `, a network of another railyard project (state dir)` : "") +
          ". " +
          (where.startsWith("networks.")
            ? `give ${where} a subnet of its own`
            : `move that network, or use named networks with subnets of their own`),
        where,
      );
  }
}
