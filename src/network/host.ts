/** Build-time checks that this host can run railyard's networks. I/O. */
import { readFileSync } from "node:fs";
import type { ResolvedConfig } from "../config/types.js";
import { NetworkError } from "../errors.js";
import { hostProbe } from "../runtime/detect.js";
import { formatSubnet, overlaps, parseProcRoute, type Subnet } from "./address.js";
import { PRIVATE_POOL, parseAllocatedSubnet, type NetworkAllocation } from "./allocate.js";
import { isPrivateOrNamed } from "./script.js";

/** Interfaces railyard made: bridges ("ry-NAME") and private links ("ryv-..."). */
const OURS = /^ry(v)?-/;

/**
 * Refuse a build whose networks this host cannot run: `ip` or `nft` missing, or a subnet that a
 * route of the host already covers (a LAN, a VPN, docker's bridge), where traffic would go
 * astray. Nothing to check when no container has a network of its own.
 */
export function checkNetworkHost(
  config: ResolvedConfig,
  alloc: NetworkAllocation,
  env: NodeJS.ProcessEnv,
): void {
  const users = Object.values(config.containers).filter(
    (c) => c.backend === "oci" && isPrivateOrNamed(c),
  );
  const first = users[0];
  if (!first) return;
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
  let routes;
  try {
    routes = parseProcRoute(readFileSync("/proc/net/route", "utf8")).filter(
      (r) => !OURS.test(r.iface),
    );
  } catch {
    return;
  }
  const used: [string, Subnet][] = [];
  if (users.some((c) => c.network === "private")) used.push(['network "private"', PRIVATE_POOL]);
  for (const [name, n] of Object.entries(alloc.networks))
    if (users.some((c) => c.networks.some((a) => a.name === name)))
      used.push([`networks.${name}`, parseAllocatedSubnet(n.subnet)]);
  for (const [where, s] of used) {
    const r = routes.find((r) => overlaps(r.subnet, s));
    if (r)
      throw new NetworkError(
        `${where}: its addresses ${formatSubnet(s)} overlap the host's route to ${formatSubnet(r.subnet)} on ${r.iface}. ` +
          (where.startsWith("networks.")
            ? `give ${where} a subnet of its own`
            : `move that network, or use named networks with subnets of their own`),
        where,
      );
  }
}
