/**
 * What a container on a private or named network needs at start, as the shell script its unit
 * runs (`up` before the runtime starts it, `down` after it stopped), and the nftables table they
 * share. Pure. Only `ip`, `nft` and `flock` run at start: nothing of railyard's stays resident,
 * and no port is proxied by a process.
 */
import { createHash } from "node:crypto";
import type { ResolvedConfig, ResolvedContainer } from "../config/types.js";
import { formatPublished, publishedIp, publishedPort, type PortSpec } from "../config/parse.js";
import { formatIPv4, parseIPv4 } from "./address.js";
import { gatewayOf, parseAllocatedSubnet, type NetworkAllocation } from "./allocate.js";

/** The nftables table every railyard network shares (`nft list table ip railyard`). */
export const NFT_TABLE = "railyard";

/**
 * The table, loaded once (by the first container that starts). Published ports are map
 * elements that each container adds at start and removes at stop. `ifaces` holds the bridges of
 * named networks and the host ends of private containers' links; `samebridge` lets a named
 * network's members reach each other (bridged traffic passes these hooks when br_netfilter is
 * loaded). Anything else forwarded into a container's link is dropped unless it is the answer
 * to a connection the container opened or was published.
 */
export const BASE_NFT = `table ip ${NFT_TABLE} {
	set ifaces {
		type ifname
	}
	set samebridge {
		type ifname . ifname
	}
	map published {
		type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service
	}
	map publishedany {
		type inet_proto . inet_service : ipv4_addr . inet_service
	}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local dnat to ip daddr . meta l4proto . th dport map @published
		fib daddr type local dnat to meta l4proto . th dport map @publishedany
	}
	chain output {
		type nat hook output priority -100; policy accept;
		fib daddr type local dnat to ip daddr . meta l4proto . th dport map @published
		fib daddr type local dnat to meta l4proto . th dport map @publishedany
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname @ifaces ip saddr 127.0.0.0/8 masquerade
		oifname @ifaces iifname @ifaces ct status dnat masquerade
		iifname @ifaces oifname != @ifaces masquerade
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		oifname @ifaces ct state established,related accept
		oifname @ifaces ct status dnat accept
		iifname . oifname @samebridge accept
		oifname @ifaces drop
	}
}
`;

/** Everything one container's network setup needs, names and addresses decided. */
export interface ContainerNetwork {
  readonly container: string;
  /** The named network namespace (`/run/netns/<netns>`) the runtime joins. */
  readonly netns: string;
  /** The host end of the container's veth link. */
  readonly hostIf: string;
  /** The container's address, its prefix length, and its default gateway (the host). */
  readonly address: string;
  readonly prefix: number;
  readonly gateway: string;
  /** A named network's bridge; unset for network "private" (a routed /31 of its own). */
  readonly bridge?: string;
  readonly ports: readonly PortSpec[];
}

export const netnsName = (container: string): string => `railyard-${container}`;
export const netnsPath = (container: string): string => `/run/netns/${netnsName(container)}`;
/** Interface names have 15 characters at most: the bridge is "ry-" and the network's name. */
export const bridgeName = (network: string): string => `ry-${network}`;
const hostIfName = (container: string) =>
  `ryv-${createHash("sha256").update(container).digest("hex").slice(0, 10)}`;

/** `network: "container:NAME"`: the container whose network namespace this one joins. */
export const joinedOwner = (c: Pick<ResolvedContainer, "network">): string | undefined =>
  c.network.startsWith("container:") ? c.network.slice("container:".length) : undefined;

/** Networks whose containers get their own namespace, address and published ports. */
export const isPrivateOrNamed = (c: ResolvedContainer): boolean =>
  c.network !== "none" && c.network !== "host" && joinedOwner(c) === undefined;

/**
 * The network a container's traffic is on: its own, or for one that joins another's namespace,
 * the owner's (whose /etc/hosts and nameservers it shares).
 */
export function effectiveNetwork(config: ResolvedConfig, c: ResolvedContainer): string {
  const owner = joinedOwner(c);
  return owner !== undefined ? (config.containers[owner]?.network ?? "none") : c.network;
}

/** A container's network as allocated, or undefined for network "none" and "host". */
export function containerNetwork(
  c: ResolvedContainer,
  alloc: NetworkAllocation,
): ContainerNetwork | undefined {
  if (!isPrivateOrNamed(c)) return undefined;
  const common = { container: c.name, netns: netnsName(c.name), hostIf: hostIfName(c.name) };
  if (c.network === "private") {
    const address = alloc.private[c.name];
    if (address === undefined) throw new Error(`no private address allocated for ${c.name}`);
    const a = parseIPv4(address) as number;
    return { ...common, address, prefix: 31, gateway: formatIPv4(a - 1), ports: c.ports };
  }
  const net = alloc.networks[c.network];
  const address = net?.members[c.name];
  if (!net || address === undefined)
    throw new Error(`no address allocated for ${c.name} on ${c.network}`);
  const s = parseAllocatedSubnet(net.subnet);
  return {
    ...common,
    address,
    prefix: s.prefix,
    gateway: formatIPv4(gatewayOf(s)),
    bridge: bridgeName(c.network),
    ports: c.ports,
  };
}

/** nft map elements for the published ports: key only (for delete) or key : value (for add). */
function portElements(n: ContainerNetwork, withValue: boolean): string[] {
  return n.ports.map((p) => {
    const any = publishedIp(p) === "0.0.0.0";
    const key = `${any ? "" : `${publishedIp(p)} . `}${p.protocol} . ${publishedPort(p)}`;
    const map = any ? "publishedany" : "published";
    return `${map} { ${key}${withValue ? ` : ${n.address} . ${p.containerPort}` : ""} }`;
  });
}

/**
 * The MAC address of an IPv4 address, as docker derives them: a locally administered prefix and
 * the address's four bytes. A container that restarts (with a new link) keeps its MAC, so the
 * neighbour caches of the host and of its peers stay right, and so does a bridge's own.
 */
export function macFor(address: string): string {
  const a = parseIPv4(address) as number;
  const bytes = [24, 16, 8, 0].map((s) =>
    (Math.floor(a / 2 ** s) % 256).toString(16).padStart(2, "0"),
  );
  return ["02", "72", ...bytes].join(":");
}

/**
 * The last member to leave a named network takes its bridge and the bridge's nftables elements
 * with it (under the same lock as `up` makes them), so nothing of a network stays on the host
 * while none of its containers runs; the next member's `up` makes them again.
 */
function bridgeCleanup(b: string): string[] {
  return [
    `\tif [ -d /sys/class/net/${b}/brif ] && [ -d ${NET_RUN_DIR} ]; then (`,
    "\t\tflock 9",
    `\t\tif [ -z "$(ls /sys/class/net/${b}/brif)" ]; then`,
    `\t\t\tip link delete ${b} 2>/dev/null || true`,
    `\t\t\tnft delete element ip ${NFT_TABLE} ifaces '{ "${b}" }' 2>/dev/null || true`,
    `\t\t\tnft delete element ip ${NFT_TABLE} samebridge '{ "${b}" . "${b}" }' 2>/dev/null || true`,
    "\t\tfi",
    `\t) 9>${NET_RUN_DIR}/.lock; fi`,
  ];
}

/** The run-time directory where `up` leaves what `down` must undo. */
export const NET_RUN_DIR = "/run/railyard/net";

/**
 * The script a container's unit runs: `up` (ExecStartPre) builds the namespace, the link and
 * the published ports; `down` (ExecStopPost) removes exactly what `up` added, from the record
 * `up` left in /run, so it is right even after a switch changed the config.
 */
export function renderNetScript(n: ContainerNetwork): string {
  const undo = `${NET_RUN_DIR}/${n.container}.undo`;
  const lines: string[] = [
    "#!/bin/sh",
    `# The network of container ${n.container}. Written by railyard: its unit runs "up" before the`,
    `# container starts and "down" after it stopped.`,
    "set -eu",
    "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
    `undo=${undo}`,
    "down() {",
    `\tif [ -f "$undo" ]; then nft -f "$undo" || true; rm -f "$undo"; fi`,
    `\tip netns delete ${n.netns} 2>/dev/null || true`,
    ...(n.bridge ? bridgeCleanup(n.bridge) : []),
    "}",
    'case "${1-}" in',
    "up)",
    `\tmkdir -p ${NET_RUN_DIR}`,
    "\tdown",
    "\t(",
    "\t\tflock 9",
    `\t\tnft list table ip ${NFT_TABLE} >/dev/null 2>&1 || nft -f - <<'NFT'`,
    BASE_NFT.trimEnd(),
    "NFT",
    "\t\techo 1 >/proc/sys/net/ipv4/ip_forward",
  ];
  if (n.bridge) {
    const b = n.bridge;
    const gw = `${n.gateway}/${n.prefix}`;
    lines.push(
      `\t\tif ! ip link show dev ${b} >/dev/null 2>&1; then`,
      `\t\t\tip link add ${b} address ${macFor(n.gateway)} type bridge`,
      `\t\t\tnft add element ip ${NFT_TABLE} ifaces '{ "${b}" }'`,
      `\t\t\tnft add element ip ${NFT_TABLE} samebridge '{ "${b}" . "${b}" }'`,
      "\t\tfi",
      `\t\techo 1 >/proc/sys/net/ipv4/conf/${b}/route_localnet`,
      `\t\tip -4 addr show dev ${b} | grep -q ' inet ${gw} ' || { ip addr flush dev ${b}; ip addr add ${gw} dev ${b}; }`,
      `\t\tip link set ${b} up`,
    );
  }
  const link = [
    `ip link delete ${n.hostIf} 2>/dev/null || true`,
    `ip netns add ${n.netns}`,
    `ip link add ${n.hostIf} type veth peer name eth0 address ${macFor(n.address)} netns ${n.netns}`,
  ];
  if (n.bridge)
    // Attached under the lock: the last member's `down` removes an empty bridge under it too.
    lines.push(
      ...[...link, `ip link set ${n.hostIf} master ${n.bridge} up`].map((l) => `\t\t${l}`),
      `\t) 9>${NET_RUN_DIR}/.lock`,
    );
  else
    lines.push(
      `\t) 9>${NET_RUN_DIR}/.lock`,
      ...link.map((l) => `\t${l}`),
      `\tip addr add ${n.gateway}/31 dev ${n.hostIf}`,
      `\techo 1 >/proc/sys/net/ipv4/conf/${n.hostIf}/route_localnet`,
      `\tip link set ${n.hostIf} up`,
    );
  lines.push(
    `\tip -n ${n.netns} -batch - <<'IP'`,
    `addr add ${n.address}/${n.prefix} dev eth0`,
    "link set eth0 up",
    "link set lo up",
    `route add default via ${n.gateway}`,
    "IP",
  );
  const add = [...(n.bridge ? [] : [`ifaces { "${n.hostIf}" }`]), ...portElements(n, true)];
  if (add.length > 0) {
    const del = [...(n.bridge ? [] : [`ifaces { "${n.hostIf}" }`]), ...portElements(n, false)];
    const published = n.ports.map(formatPublished);
    lines.push(
      `\tnft -f - <<'NFT' || { echo "railyard: cannot publish ${published.join(" ") || "the link"} of ${n.container}: another container publishes it" >&2; exit 1; }`,
      ...add.map((e) => `create element ip ${NFT_TABLE} ${e}`),
      "NFT",
      `\tcat >"$undo" <<'NFT'`,
      ...del.map((e) => `delete element ip ${NFT_TABLE} ${e}`),
      "NFT",
    );
  }
  lines.push("\t;;", "down) down ;;", `*) echo "usage: $0 up|down" >&2; exit 2 ;;`, "esac");
  return `${lines.join("\n")}\n`;
}

/**
 * A named network's /etc/hosts: every member by its name and hostname. Members see peers that
 * a later switch adds, since railyard rewrites the file in place and each member mounts it.
 */
export function renderHostsFile(
  config: ResolvedConfig,
  network: string,
  alloc: NetworkAllocation,
): string {
  const lines = [
    "# written by railyard: the containers of network " + network,
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
  ];
  const members = alloc.networks[network]?.members ?? {};
  for (const name of Object.keys(members).sort()) {
    const c = config.containers[name];
    const names = c && c.hostname !== name ? `${name} ${c.hostname}` : name;
    lines.push(`${members[name]}\t${names}`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * resolv.conf for a container with its own network: the host's, without nameservers on
 * loopback (unreachable from another namespace). A host that runs systemd-resolved's stub
 * (127.0.0.53) passes its upstream file, /run/systemd/resolve/resolv.conf, as `upstream`.
 */
export function privateResolvConf(host: string | undefined, upstream: string | undefined): string {
  const usable = (text: string | undefined) =>
    (text ?? "").split("\n").filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l));
  const hasServer = (ls: string[]) => ls.some((l) => /^\s*nameserver\s/.test(l));
  let lines = usable(host);
  if (!hasServer(lines) && upstream !== undefined) lines = usable(upstream);
  if (!hasServer(lines))
    return "# written by railyard: the host has no nameserver reachable from a container's own network\n";
  return `${lines.join("\n").trimEnd()}\n`;
}
