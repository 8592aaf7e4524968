/**
 * What a container on a private or named network needs at start, as the shell script its unit
 * runs (`up` before the runtime starts it, `down` after it stopped), and the nftables table they
 * share. Pure. Only `ip`, `nft` and `flock` run at start: nothing of railyard's stays resident,
 * and no port is proxied by a process.
 */
import { createHash } from "node:crypto";
import { containerId, type IdScope } from "../model/ids.js";
import type { ResolvedConfig, ResolvedContainer } from "../model/types.js";
import { formatPublished, publishedIp, publishedPort, type PortSpec } from "../model/parse.js";
import { formatIPv4, parseIPv4 } from "../model/address.js";
import { gatewayOf, ipv6Of, parseAllocatedSubnet, type NetworkAllocation } from "./allocate.js";
import { attachmentsOf, isPrivateOrNamed } from "../model/network.js";

/** The nftables table every railyard network shares (`nft list table ip railyard`). */
export const NFT_TABLE = "railyard";

/**
 * The table of one family (`ip`, and `ip6` for dual-stack networks), loaded by the first
 * container that starts where its marker chain is missing. Published ports are map elements
 * that each container adds at start and removes at stop. `ifaces` holds the bridges of named
 * networks and the host ends of private containers' links; `samebridge` lets a named network's
 * members reach each other (bridged traffic passes these hooks when br_netfilter is loaded).
 * Anything else forwarded into a container's link is dropped unless it is the answer to a
 * connection the container opened or was published. Only IPv4 publishes loopback (127.0.0.1,
 * with route_localnet): the kernel never forwards from ::1, so those ports go through a proxy
 * (systemd/proxy.ts).
 *
 * route_localnet lets packets to 127.0.0.0/8 in through the container-facing interfaces, which
 * the answers to a published loopback port need; a container with NET_RAW could then address
 * the host's own loopback services directly (CVE-2020-8558, which kube-proxy closed the same
 * way): the `input` chain drops what comes in from them to 127.0.0.0/8 unless it belongs to a
 * connection the host made or a published port's DNAT.
 *
 * The script declares every set and chain (a no-op for those that exist, so the elements of
 * running containers stay) and then flushes and refills the chains: loading it over a table an
 * older railyard made gives the same rules as over none.
 */
function baseTable(family: "ip" | "ip6"): string {
  const addr = family === "ip" ? "ipv4_addr" : "ipv6_addr";
  const lookup = (key: string) =>
    `\t\tfib daddr type local dnat to ${key}meta l4proto . th dport map @${key ? "published" : "publishedany"}`;
  const chains: [string, string, string[]][] = [
    [
      "prerouting",
      "type nat hook prerouting priority dstnat; policy accept;",
      [lookup(`${family} daddr . `), lookup("")],
    ],
    [
      "output",
      "type nat hook output priority -100; policy accept;",
      [lookup(`${family} daddr . `), lookup("")],
    ],
    [
      "postrouting",
      "type nat hook postrouting priority srcnat; policy accept;",
      [
        ...(family === "ip" ? ["\t\toifname @ifaces ip saddr 127.0.0.0/8 masquerade"] : []),
        "\t\toifname @ifaces iifname @ifaces ct status dnat masquerade",
        "\t\tiifname @ifaces oifname != @ifaces masquerade",
      ],
    ],
    [
      "forward",
      "type filter hook forward priority filter; policy accept;",
      [
        "\t\toifname @ifaces ct state established,related accept",
        "\t\toifname @ifaces ct status dnat accept",
        "\t\tiifname . oifname @samebridge accept",
        "\t\toifname @ifaces drop",
      ],
    ],
    ...(family === "ip"
      ? ([
          [
            "input",
            "type filter hook input priority filter; policy accept;",
            [
              "\t\tiifname @ifaces ip daddr 127.0.0.0/8 ct state established,related accept",
              "\t\tiifname @ifaces ip daddr 127.0.0.0/8 ct status dnat accept",
              "\t\tiifname @ifaces ip daddr 127.0.0.0/8 drop",
            ],
          ],
        ] as [string, string, string[]][])
      : []),
  ];
  return `table ${family} ${NFT_TABLE} {
	set ifaces {
		type ifname
	}
	set samebridge {
		type ifname . ifname
	}
	map published {
		type ${addr} . inet_proto . inet_service : ${addr} . inet_service
	}
	map publishedany {
		type inet_proto . inet_service : ${addr} . inet_service
	}
${chains.map(([name, hook]) => `\tchain ${name} {\n\t\t${hook}\n\t}`).join("\n")}
}
${chains.map(([name]) => `flush chain ${family} ${NFT_TABLE} ${name}`).join("\n")}
table ${family} ${NFT_TABLE} {
${chains.map(([name, , rules]) => `\tchain ${name} {\n${rules.join("\n")}\n\t}`).join("\n")}
}
`;
}

/** The chain whose presence says the table has today's rules (older ones had no input chain). */
const MARKER: Record<"ip" | "ip6", string> = { ip: "input", ip6: "forward" };

/** The IPv4 table every railyard network shares (`nft list table ip railyard`). */
export const BASE_NFT = baseTable("ip");
/** The IPv6 table, loaded by the first container on a dual-stack network. */
export const BASE_NFT6 = baseTable("ip6");

/** One of a container's interfaces: a veth link to the host, or to a named network's bridge. */
export interface NetworkLink {
  /** Its name inside the container: eth0, eth1, ... in the order of the container's networks. */
  readonly ifname: string;
  /** The host end of the veth link. */
  readonly hostIf: string;
  /** The container's address on it, its prefix length, and the host's address there. */
  readonly address: string;
  readonly prefix: number;
  readonly gateway: string;
  /** A named network's bridge; unset for network "private" (a routed /31 of its own). */
  readonly bridge?: string;
  /** On a dual-stack network: the container's IPv6 address, its prefix length, the bridge's. */
  readonly v6?: { readonly address: string; readonly prefix: number; readonly gateway: string };
}

/** Everything one container's network setup needs, names and addresses decided. */
export interface ContainerNetwork {
  readonly container: string;
  /** The name of its undo record in NET_RUN_DIR (the container's, scoped like its netns). */
  readonly record: string;
  /** The named network namespace (`/run/netns/<netns>`) the runtime joins. */
  readonly netns: string;
  /** At least one; the first carries the default route and the published ports. */
  readonly links: readonly [NetworkLink, ...NetworkLink[]];
  readonly ports: readonly PortSpec[];
}

/**
 * Network namespaces, bridges and links are host-wide names. A project whose state dir is not the
 * default one has an id scope (see runtime/oci.ts), and its names carry it, so two projects with
 * a container or a network of the same name never share one.
 */
export const netnsName = (container: string, scope?: IdScope): string =>
  containerId(container, scope);
export const netnsPath = (container: string, scope?: IdScope): string =>
  `/run/netns/${netnsName(container, scope)}`;
const short = (text: string, n: number) =>
  createHash("sha256").update(text).digest("hex").slice(0, n);
/**
 * Interface names have 15 characters at most: the bridge is "ry-" and the network's name, or in
 * a scoped project "ryb-" and a hash of the scope and the name.
 */
export const bridgeName = (network: string, scope?: string): string =>
  scope ? `ryb-${short(`${scope}/${network}`, 11)}` : `ry-${network}`;
/** A host end's name: "ryv-" and a hash of the container (and, past its first, the network). */
const hostIfName = (container: string, network?: string, scope?: string) =>
  `ryv-${short(
    `${scope ? `${scope}/` : ""}${network === undefined ? container : `${container}/${network}`}`,
    10,
  )}`;

/**
 * The host interfaces this project's containers make: the bridges of its networks and the host
 * ends of its links. A route on any other (a LAN, a VPN, another project's network) is foreign.
 */
export function ownInterfaces(config: ResolvedConfig): Set<string> {
  const scope = config.idScope;
  const out = new Set(Object.keys(config.networks).map((n) => bridgeName(n, scope)));
  for (const c of Object.values(config.containers)) {
    if (c.network === "private") out.add(hostIfName(c.name, undefined, scope));
    attachmentsOf(c).forEach((a, i) =>
      out.add(hostIfName(c.name, i === 0 ? undefined : a.name, scope)),
    );
  }
  return out;
}

/** A container's network as allocated, or undefined for network "none" and "host". */
export function containerNetwork(
  c: ResolvedContainer,
  alloc: NetworkAllocation,
  config: Pick<ResolvedConfig, "idScope" | "project">,
): ContainerNetwork | undefined {
  if (!isPrivateOrNamed(c)) return undefined;
  const scope = config.idScope;
  const common = {
    container: c.name,
    record: scope ? `${c.name}-${scope}` : c.name,
    netns: netnsName(c.name, config),
    ports: c.ports,
  };
  if (c.network === "private") {
    const address = alloc.private[c.name];
    if (address === undefined) throw new Error(`no private address allocated for ${c.name}`);
    const a = parseIPv4(address) as number;
    const link = {
      ifname: "eth0",
      hostIf: hostIfName(c.name, undefined, scope),
      address,
      prefix: 31,
    };
    return { ...common, links: [{ ...link, gateway: formatIPv4(a - 1) }] };
  }
  const links = attachmentsOf(c).map(({ name }, i): NetworkLink => {
    const net = alloc.networks[name];
    const address = net?.members[c.name];
    if (!net || address === undefined)
      throw new Error(`no address allocated for ${c.name} on ${name}`);
    const s = parseAllocatedSubnet(net.subnet);
    const address6 = ipv6Of(net, address);
    const gateway6 = ipv6Of(net, formatIPv4(gatewayOf(s)));
    const prefix6 = Number(net.subnet6?.split("/")[1]);
    return {
      ifname: `eth${i}`,
      hostIf: hostIfName(c.name, i === 0 ? undefined : name, scope),
      address,
      prefix: s.prefix,
      gateway: formatIPv4(gatewayOf(s)),
      bridge: bridgeName(name, scope),
      ...(address6 && gateway6
        ? { v6: { address: address6, prefix: prefix6, gateway: gateway6 } }
        : {}),
    };
  });
  const [first, ...more] = links;
  if (!first) throw new Error(`${c.name} is on no network`);
  return { ...common, links: [first, ...more] };
}

/**
 * nft map elements for the ports published in one family's table, each prefixed with the table:
 * key only (for delete) or key : value (for add), to the container's address on its first
 * network. IPv6 takes the ports on an IPv6 address but ::1 (proxied, see systemd/proxy.ts).
 */
function portElements(n: ContainerNetwork, family: "ip" | "ip6", withValue: boolean): string[] {
  const to = family === "ip" ? n.links[0].address : n.links[0].v6?.address;
  if (to === undefined) return [];
  const anyIp = family === "ip" ? "0.0.0.0" : "::";
  return n.ports.flatMap((p) => {
    const ip = publishedIp(p);
    if (ip.includes(":") !== (family === "ip6") || ip === "::1") return [];
    const any = ip === anyIp;
    const key = `${any ? "" : `${ip} . `}${p.protocol} . ${publishedPort(p)}`;
    const map = any ? "publishedany" : "published";
    return [
      `${family} ${NFT_TABLE} ${map} { ${key}${withValue ? ` : ${to} . ${p.containerPort}` : ""} }`,
    ];
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
function bridgeCleanup(b: string, v6: boolean): string[] {
  return [
    `\tif [ -d /sys/class/net/${b}/brif ] && [ -d ${NET_RUN_DIR} ]; then (`,
    "\t\tflock 9",
    `\t\tif [ -z "$(ls /sys/class/net/${b}/brif)" ]; then`,
    `\t\t\tip link delete ${b} 2>/dev/null || true`,
    `\t\t\tnft -f - 2>/dev/null <<'NFT' || true`,
    ...bridgeElements("delete", b, v6 ? ["ip", "ip6"] : ["ip"]),
    "NFT",
    "\t\tfi",
    `\t) 9>${NET_RUN_DIR}/.lock; fi`,
  ];
}

/** A bridge's elements in the sets of these families' tables, as nft -f lines. */
const bridgeElements = (verb: "add" | "delete", b: string, families: readonly string[]): string[] =>
  families.flatMap((family) => [
    `${verb} element ${family} ${NFT_TABLE} ifaces { "${b}" }`,
    `${verb} element ${family} ${NFT_TABLE} samebridge { "${b}" . "${b}" }`,
  ]);

/** The run-time directory where `up` leaves what `down` must undo. */
export const NET_RUN_DIR = "/run/railyard/net";

/**
 * The script a container's unit runs: `up` (ExecStartPre) builds the namespace, the link and
 * the published ports; `down` (ExecStopPost) removes exactly what `up` added, from the record
 * `up` left in /run, so it is right even after a switch changed the config.
 */
export function renderNetScript(n: ContainerNetwork): string {
  const v6Links = n.links.filter((l) => l.v6 !== undefined);
  const lines = [
    ...scriptStart(n),
    ...(v6Links.length > 0 ? ipv6Table() : []),
    ...n.links.flatMap((l) => (l.bridge ? bridgeUp(l) : [])),
    ...linksUp(n),
    ...namespaceAddresses(n, v6Links),
    ...publishPorts(n),
    "\t;;",
    "down) down ;;",
    `*) echo "usage: $0 up|down" >&2; exit 2 ;;`,
    "esac",
  ];
  return `${lines.join("\n")}\n`;
}

/** The script's head, its `down`, and the start of `up`: the run dir, the base table, forwarding. */
function scriptStart(n: ContainerNetwork): string[] {
  const undo = `${NET_RUN_DIR}/${n.record}.undo`;
  const bridges = n.links.flatMap((l) => (l.bridge ? [l] : []));
  return [
    "#!/bin/sh",
    `# The network of container ${n.container}. Written by railyard: its unit runs "up" before the`,
    `# container starts and "down" after it stopped.`,
    "set -eu",
    "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
    `undo=${undo}`,
    "down() {",
    `\tif [ -f "$undo" ]; then nft -f "$undo" || true; rm -f "$undo"; fi`,
    // The host ends first, by name: a veth that goes with its namespace goes later, in the
    // kernel's own time, and the last member's check below would still see it on the bridge.
    ...n.links.map((l) => `\t[ ! -e /sys/class/net/${l.hostIf} ] || ip link delete ${l.hostIf}`),
    `\t[ ! -e /run/netns/${n.netns} ] || ip netns delete ${n.netns}`,
    ...bridges.flatMap((l) => bridgeCleanup(l.bridge as string, l.v6 !== undefined)),
    "}",
    'case "${1-}" in',
    "up)",
    `\t[ -d ${NET_RUN_DIR} ] || mkdir -p ${NET_RUN_DIR}`,
    "\tdown",
    "\t(",
    "\t\tflock 9",
    `\t\tnft list chain ip ${NFT_TABLE} ${MARKER.ip} >/dev/null 2>&1 || nft -f - <<'NFT'`,
    BASE_NFT.trimEnd(),
    "NFT",
    "\t\techo 1 >/proc/sys/net/ipv4/ip_forward",
  ];
}

/** A dual-stack network's table, and forwarding turned on without losing router advertisements. */
function ipv6Table(): string[] {
  return [
    `\t\tnft list chain ip6 ${NFT_TABLE} ${MARKER.ip6} >/dev/null 2>&1 || nft -f - <<'NFT'`,
    BASE_NFT6.trimEnd(),
    "NFT",
    // Forwarding turns off router advertisements where accept_ra is 1 (the host's own IPv6
    // default route may come from one): 2 keeps them, as with forwarding off.
    `\t\tif [ "$(cat /proc/sys/net/ipv6/conf/all/forwarding)" != 1 ]; then`,
    `\t\t\tfor f in /proc/sys/net/ipv6/conf/*/accept_ra; do [ "$(cat "$f")" != 1 ] || echo 2 >"$f"; done`,
    "\t\t\techo 1 >/proc/sys/net/ipv6/conf/all/forwarding",
    "\t\tfi",
  ];
}

/** A named network's bridge: made by its first member, its address set right by any. */
function bridgeUp(l: NetworkLink): string[] {
  const b = l.bridge as string;
  const gw = `${l.gateway}/${l.prefix}`;
  const gw6 = l.v6 ? `${l.v6.gateway}/${l.v6.prefix}` : undefined;
  return [
    `\t\tif [ ! -d /sys/class/net/${b} ]; then`,
    `\t\t\tip -batch - <<'IP'`,
    `link add ${b} address ${macFor(l.gateway)} type bridge`,
    `addr add ${gw} dev ${b}`,
    ...(gw6 ? [`addr add ${gw6} dev ${b} nodad`] : []),
    `link set ${b} up`,
    "IP",
    `\t\t\tnft -f - <<'NFT'`,
    ...bridgeElements("add", b, gw6 ? ["ip", "ip6"] : ["ip"]),
    "NFT",
    // A bridge another member made: its address may be an earlier generation's.
    `\t\telif ! ip -4 addr show dev ${b} | grep -q ' inet ${gw} '; then`,
    `\t\t\tip addr flush dev ${b}`,
    `\t\t\tip addr add ${gw} dev ${b}`,
    "\t\tfi",
    ...(gw6
      ? [
          `\t\tip -6 addr show dev ${b} | grep -q ' inet6 ${gw6} ' || { ip -6 addr add ${gw6} dev ${b} nodad; nft -f - <<'NFT'`,
          ...bridgeElements("add", b, ["ip6"]),
          "NFT",
          "\t\t}",
        ]
      : []),
    `\t\techo 1 >/proc/sys/net/ipv4/conf/${b}/route_localnet`,
  ];
}

/** The veth links, into the namespace (and a bridge), made in one ip batch. */
function linksUp(n: ContainerNetwork): string[] {
  const [primary] = n.links;
  // A host end left behind (only if its namespace outlived a crash) is removed first.
  const link = [
    ...n.links.map((l) => `[ ! -e /sys/class/net/${l.hostIf} ] || ip link delete ${l.hostIf}`),
    "ip -batch - <<'IP'",
  ];
  const batch = [
    `netns add ${n.netns}`,
    ...n.links.flatMap((l) => [
      `link add ${l.hostIf} type veth peer name ${l.ifname} address ${macFor(l.address)} netns ${n.netns}`,
      ...(l.bridge ? [`link set ${l.hostIf} master ${l.bridge} up`] : []),
    ]),
  ];
  if (primary.bridge)
    // Attached under the lock: the last member's `down` removes an empty bridge under it too.
    return [...link.map((l) => `\t\t${l}`), ...batch, "IP", `\t) 9>${NET_RUN_DIR}/.lock`];
  return [
    `\t) 9>${NET_RUN_DIR}/.lock`,
    ...link.map((l) => `\t${l}`),
    ...batch,
    `addr add ${primary.gateway}/31 dev ${primary.hostIf}`,
    `link set ${primary.hostIf} up`,
    "IP",
    `\techo 1 >/proc/sys/net/ipv4/conf/${primary.hostIf}/route_localnet`,
  ];
}

/** The container's addresses and routes, set inside its namespace. */
function namespaceAddresses(n: ContainerNetwork, v6Links: readonly NetworkLink[]): string[] {
  const [primary] = n.links;
  return [
    `\tip -n ${n.netns} -batch - <<'IP'`,
    ...n.links.flatMap((l) => [
      `addr add ${l.address}/${l.prefix} dev ${l.ifname}`,
      ...(l.v6 ? [`addr add ${l.v6.address}/${l.v6.prefix} dev ${l.ifname} nodad`] : []),
      `link set ${l.ifname} up`,
    ]),
    "link set lo up",
    `route add default via ${primary.gateway}`,
    ...(v6Links[0]?.v6 ? [`route add default via ${v6Links[0].v6.gateway}`] : []),
    "IP",
  ];
}

/** Its published ports (and a private link's host end) into the table, with their undo record. */
function publishPorts(n: ContainerNetwork): string[] {
  const [primary] = n.links;
  const hostIfs = primary.bridge ? [] : [`ip ${NFT_TABLE} ifaces { "${primary.hostIf}" }`];
  const elements = (withValue: boolean) => [
    ...hostIfs,
    ...portElements(n, "ip", withValue),
    ...portElements(n, "ip6", withValue),
  ];
  const add = elements(true);
  if (add.length > 0) {
    const del = elements(false);
    const published = n.ports.filter((p) => p.hostIp !== "::1").map(formatPublished);
    // A range's ports are named by its ends: the message is one line of the journal.
    if (published.length > 8) published.splice(1, published.length - 2, "...");
    return [
      `\tnft -f - <<'NFT' || { echo "railyard: cannot publish ${published.join(" ") || "the link"} of ${n.container}: another container publishes it" >&2; exit 1; }`,
      ...add.map((e) => `create element ${e}`),
      "NFT",
      // printf is the shell's own: no cat to exec.
      "\tprintf '%s\\n' \\",
      ...del.map((e) => `\t\t'delete element ${e}' \\`),
      `\t\t>"$undo"`,
    ];
  }
  return [];
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
