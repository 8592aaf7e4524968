/**
 * /etc/hosts for containers with a network: the named networks' shared files (which members
 * bind-mount, and a switch rewrites in place), and a container's `extraHosts` lines, with
 * "host-gateway" resolved to the host's address as that container reaches it. Pure.
 */
import type { ResolvedConfig, ResolvedContainer } from "../model/types.js";
import { ipv6Of, type NetworkAllocation } from "./allocate.js";
import { attachmentsOf, joinedOwner } from "../model/network.js";
import { containerNetwork } from "./script.js";
import { BuildError } from "../errors.js";

/** The container whose network namespace `c` is in: the one it joins, else itself. */
function namespaceOwner(
  config: ResolvedConfig,
  c: ResolvedContainer,
): ResolvedContainer | undefined {
  const owner = joinedOwner(c);
  return owner !== undefined ? config.containers[owner] : c;
}

/**
 * The named networks whose members a container's /etc/hosts names: its own, or those of the
 * container whose namespace it joins. Sorted, so containers on the same networks share one file.
 */
export function hostsNetworks(config: ResolvedConfig, c: ResolvedContainer): string[] {
  const from = namespaceOwner(config, c);
  return from
    ? attachmentsOf(from)
        .map((a) => a.name)
        .sort()
    : [];
}

/**
 * The /etc/hosts of the containers on `networks` (sorted): every member of each by its name, its
 * hostname and its aliases there. Members see peers that a later switch adds, since railyard
 * rewrites the file in place and each member mounts it.
 */
export function renderHostsFile(
  config: ResolvedConfig,
  networks: readonly string[],
  alloc: NetworkAllocation,
): string {
  const lines = [
    `# written by railyard: the containers of network${networks.length > 1 ? "s" : ""} ${networks.join(", ")}`,
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
  ];
  for (const network of networks) {
    const net = alloc.networks[network];
    const members = net?.members ?? {};
    for (const name of Object.keys(members).sort()) {
      const c = config.containers[name];
      const aliases = c ? (attachmentsOf(c).find((a) => a.name === network)?.aliases ?? []) : [];
      const names = [...new Set([name, c?.hostname ?? name, ...aliases])].join(" ");
      const address = members[name] as string;
      lines.push(`${address}\t${names}`);
      const v6 = net ? ipv6Of(net, address) : undefined;
      if (v6 !== undefined) lines.push(`${v6}\t${names}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/**
 * The address "host-gateway" stands for in a container: the host as the container reaches it
 * (that of the container whose namespace it joins, if it joins one). 127.0.0.1 on network
 * "host"; the host's end of the link on "private"; the bridge of its first named network.
 * Undefined on network "none", where there is no host to reach.
 */
export function hostGateway(
  config: ResolvedConfig,
  c: ResolvedContainer,
  alloc: NetworkAllocation,
): string | undefined {
  const from = namespaceOwner(config, c);
  if (from === undefined || from.network === "none") return undefined;
  if (from.network === "host") return "127.0.0.1";
  return containerNetwork(from, alloc, config)?.links[0].gateway;
}

/**
 * A container's `extraHosts` as /etc/hosts lines, in the order given. Throws when one says
 * "host-gateway" where there is no host to reach (a container joining one on network "none").
 */
export function extraHostLines(
  config: ResolvedConfig,
  c: ResolvedContainer,
  alloc: NetworkAllocation,
): string[] {
  const extra = c.extraHosts ?? [];
  if (extra.length === 0) return [];
  const gateway = extra.some((h) => h.address === "host-gateway")
    ? hostGateway(config, c, alloc)
    : undefined;
  return extra.map(({ name, address }) => {
    const a = address === "host-gateway" ? gateway : address;
    if (a === undefined)
      throw new BuildError(
        `extraHosts.${name} is "host-gateway", but the network it is on (${c.network}) reaches no host`,
        c.name,
      );
    return `${a}\t${name}`;
  });
}
