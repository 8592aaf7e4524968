/** Networks: the declared ones, a container's attachments and ports, and problems between them. */
import { type ConfigProblem } from "../../errors.js";
import type { Report } from "./context.js";
import { formatPublished, publishedIp, publishedPort, type PortSpec } from "../../model/parse.js";
import {
  formatSubnet,
  parseIPv4,
  parseIPv6,
  overlaps,
  overlaps6,
  parseSubnet,
  parseSubnet6,
  subnetSize,
  type Subnet,
  type Subnet6,
} from "../../model/address.js";
import {
  BUILTIN_NETWORKS,
  isDualStack,
  loopback6Ports,
  NAMED_DEFAULT_PREFIX,
  PRIVATE_POOL,
} from "../../model/network.js";
import type {
  ContainerConfig,
  ResolvedAttachment,
  ResolvedNetwork,
  ResolvedContainer,
} from "../../model/types.js";
import { formatPath } from "./problems.js";

/** The index in `ports` each resolved port came from (a range gives several), for messages. */
export const portOrigin = new WeakMap<PortSpec, number>();

/** Host names: DNS labels of letters, digits and "-", joined by dots (aliases, hostnames). */
export const DNS_NAME =
  /^(?=.{1,253}$)[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?)*$/;

/**
 * A container's `networks` (a list of names, or names -> aliases), in the order given; the
 * container's `network` when it names a declared network; else none.
 */
export function resolveAttachments(
  c: ContainerConfig,
  declared: ReadonlySet<string>,
  r: Report,
): ResolvedAttachment[] {
  if (c.networks === undefined)
    return c.network !== undefined && declared.has(c.network)
      ? [{ name: c.network, aliases: [] }]
      : [];
  if (c.network !== undefined)
    r(
      ["networks"],
      `give either network or networks: networks already says the container's networks (its first is the one network would name)`,
    );
  const given: [string, readonly string[]][] = Array.isArray(c.networks)
    ? c.networks.map((n) => [n, []])
    : Object.entries(c.networks).map(([n, a]) => [n, a.aliases ?? []]);
  if (given.length === 0)
    r(["networks"], `names no network. list at least one, or use network "none"`);
  const out: ResolvedAttachment[] = [];
  given.forEach(([name, aliases], i) => {
    const at = Array.isArray(c.networks) ? ["networks", i] : ["networks", name];
    if (!declared.has(name))
      return r(
        at,
        `${JSON.stringify(name)} is not a declared network. ` +
          (BUILTIN_NETWORKS.includes(name)
            ? `"${name}" is a network of its own: use network "${name}" instead of networks`
            : `declare it under networks${declared.size > 0 ? ` (${[...declared].sort().join(", ")})` : ""}`),
      );
    if (out.some((o) => o.name === name)) return r(at, `names ${name} twice`);
    aliases.forEach((a, j) => {
      if (!DNS_NAME.test(a))
        r(
          [...at, "aliases", j],
          `${JSON.stringify(a)} is not a host name. expected letters, digits, "-" and "_", in labels joined by "."`,
        );
    });
    out.push({ name, aliases: [...new Set(aliases)] });
  });
  return out;
}

/** Becomes the bridge "ry-<name>", and interface names have 15 characters at most. */
export const NETWORK_NAME = /^[a-z0-9][a-z0-9_-]{0,11}$/;

export function resolveNetworks(
  raw: Record<string, { subnet?: string | undefined; ipv6?: boolean | string | undefined }>,
  problems: ConfigProblem[],
): Record<string, ResolvedNetwork> {
  const out: Record<string, ResolvedNetwork> = {};
  for (const name of Object.keys(raw).sort()) {
    const at = (...p: string[]) => formatPath(["networks", name, ...p]);
    if (BUILTIN_NETWORKS.includes(name)) {
      problems.push({
        path: at(),
        message: `"${name}" is built in and cannot be declared. pick another name`,
      });
      continue;
    }
    if (!NETWORK_NAME.test(name)) {
      problems.push({
        path: at(),
        message: `${JSON.stringify(name)} is not a network name. expected 1 to 12 of a-z, 0-9, "-" and "_", starting with a letter or digit`,
      });
      continue;
    }
    const { subnet, ipv6 } = raw[name] ?? {};
    const v4 = subnet === undefined ? undefined : parseSubnet(subnet, 12, 29);
    if (v4 && !v4.ok) problems.push({ path: at("subnet"), message: v4.error });
    if (typeof ipv6 === "string") {
      const p = parseSubnet6(ipv6);
      if (!p.ok) problems.push({ path: at("ipv6"), message: p.error });
      else {
        // Each member's IPv6 address has its IPv4 address's host number: room for as many.
        const v4Bits = 32 - (v4?.ok ? v4.value.prefix : NAMED_DEFAULT_PREFIX);
        if (128 - p.value.prefix < v4Bits)
          problems.push({
            path: at("ipv6"),
            message: `${ipv6} has fewer addresses than the network's IPv4 subnet (/${32 - v4Bits}). use a /${128 - v4Bits} or larger`,
          });
      }
    }
    out[name] = {
      ...(subnet !== undefined ? { subnet } : {}),
      ...(ipv6 === true || typeof ipv6 === "string" ? { ipv6 } : {}),
    };
  }
  return out;
}

/** Problems between networks and containers: overlapping subnets, full subnets, ports published twice. */
export function networkProblems(
  networks: Record<string, ResolvedNetwork>,
  containers: Record<string, ResolvedContainer>,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  subnetProblems(networks, containers, problems);
  nameProblems(networks, containers, problems);
  subnet6Problems(networks, problems);
  ipv6PortProblems(networks, containers, problems);
  publishedTwice(networks, containers, problems);
  return problems;
}

/** IPv4 subnets that overlap each other or the private pool, or are too small for their members. */
function subnetProblems(
  networks: Record<string, ResolvedNetwork>,
  containers: Record<string, ResolvedContainer>,
  problems: ConfigProblem[],
): void {
  const subnets: [string, Subnet][] = [['the pool of network "private"', PRIVATE_POOL]];
  for (const [name, n] of Object.entries(networks)) {
    const p = n.subnet === undefined ? undefined : parseSubnet(n.subnet, 12, 29);
    if (!p?.ok) continue;
    const clash = subnets.find(([, s]) => overlaps(s, p.value));
    if (clash)
      problems.push({
        path: `networks.${name}.subnet`,
        message: `${n.subnet} overlaps ${clash[0].startsWith("the pool") ? `${clash[0]} (${formatSubnet(clash[1])})` : `networks.${clash[0]}.subnet`}. pick a subnet of its own`,
      });
    subnets.push([name, p.value]);
    const members = Object.values(containers).filter((c) =>
      c.networks.some((a) => a.name === name),
    ).length;
    const room = subnetSize(p.value) - 3;
    if (members > room)
      problems.push({
        path: `networks.${name}.subnet`,
        message: `${n.subnet} has room for ${room} containers, and ${members} are on it. use a larger subnet`,
      });
  }
}

/** Names on each network: /etc/hosts gives a name one address, so no two members share one. */
function nameProblems(
  networks: Record<string, ResolvedNetwork>,
  containers: Record<string, ResolvedContainer>,
  problems: ConfigProblem[],
): void {
  for (const name of Object.keys(networks)) {
    const owner = new Map<string, string>();
    for (const c of Object.values(containers)) {
      const a = c.networks.find((x) => x.name === name);
      if (!a) continue;
      for (const n of new Set([c.name, c.hostname])) owner.set(n.toLowerCase(), c.name);
    }
    for (const c of Object.values(containers)) {
      const i = c.networks.findIndex((x) => x.name === name);
      c.networks[i]?.aliases.forEach((alias, j) => {
        const other = owner.get(alias.toLowerCase());
        if (other !== undefined && other !== c.name)
          problems.push({
            path: `containers.${c.name}.networks.${name}.aliases[${j}]`,
            message: `${alias} is already ${other === alias ? "a container" : `a name of ${other}`} on network ${name}. each name on a network reaches one container`,
          });
        else owner.set(alias.toLowerCase(), c.name);
      });
    }
  }
}

/** IPv6 subnets that overlap each other. */
function subnet6Problems(
  networks: Record<string, ResolvedNetwork>,
  problems: ConfigProblem[],
): void {
  const subnets6: [string, Subnet6][] = [];
  for (const [name, n] of Object.entries(networks)) {
    const p = typeof n.ipv6 === "string" ? parseSubnet6(n.ipv6) : undefined;
    if (!p?.ok) continue;
    const clash = subnets6.find(([, s]) => overlaps6(s, p.value));
    if (clash)
      problems.push({
        path: `networks.${name}.ipv6`,
        message: `${n.ipv6} overlaps networks.${clash[0]}.ipv6. pick a subnet of its own`,
      });
    subnets6.push([name, p.value]);
  }
}

/**
 * IPv6 ports: ::1 through a proxy (TCP, any network of the container's own); any other address
 * by the kernel, to the container's IPv6 address on its first network.
 */
function ipv6PortProblems(
  networks: Record<string, ResolvedNetwork>,
  containers: Record<string, ResolvedContainer>,
  problems: ConfigProblem[],
): void {
  for (const c of Object.values(containers))
    c.ports.forEach((p, i) => {
      const ip = p.hostIp;
      if (ip === undefined || !ip.includes(":")) return;
      const where = `containers.${c.name}.ports[${portOrigin.get(p) ?? i}]`;
      if (ip === "::1" && p.protocol === "udp")
        problems.push({
          path: where,
          message: `UDP is not published on [::1] (it goes through a TCP proxy). publish it on 127.0.0.1, or on [::] with a dual-stack network`,
        });
      else if (ip !== "::1" && !isDualStack(c, { networks }))
        problems.push({
          path: where,
          message: `publishing on ${ip === "::" ? "every IPv6 address" : ip} needs an IPv6 address in the container: ${
            c.networks[0] !== undefined
              ? `give networks.${c.networks[0].name} ipv6: true`
              : `network "${c.network}" is IPv4 only; use a named network with ipv6: true`
          } (or publish on [::1], which any network can)`,
        });
    });
}

/**
 * A host port published twice. By host port and protocol, so a range of thousands of ports stays
 * one pass. What a port takes: its address, and on a dual-stack network, a TCP port without one
 * takes [::1] too.
 */
function publishedTwice(
  networks: Record<string, ResolvedNetwork>,
  containers: Record<string, ResolvedContainer>,
  problems: ConfigProblem[],
): void {
  const published = new Map<string, { where: string; ip: string; port: PortSpec }[]>();
  for (const c of Object.values(containers)) {
    const loop6 = new Set(loopback6Ports(c, { networks }));
    c.ports.forEach((p, i) => {
      const where = `containers.${c.name}.ports[${portOrigin.get(p) ?? i}]`;
      const key = `${publishedPort(p)}/${p.protocol}`;
      const same = published.get(key) ?? [];
      const ips = [publishedIp(p), ...(loop6.has(p) && p.hostIp === undefined ? ["::1"] : [])];
      for (const ip of ips) {
        const any = ip.includes(":") ? "::" : "0.0.0.0";
        const other = same.find(
          (o) =>
            o.ip.includes(":") === ip.includes(":") && (o.ip === ip || o.ip === any || ip === any),
        );
        if (other)
          problems.push({
            path: where,
            message: `${formatPublished({ ...p, hostIp: ip })} is already published by ${other.where} (${formatPublished({ ...other.port, hostIp: other.ip })}). pick another host port`,
          });
        same.push({ where, ip, port: p });
      }
      published.set(key, same);
    });
  }
}

/** A host name as /etc/hosts takes one: labels of letters, digits, "-" and "_", joined by dots. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*)(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*$/;

/**
 * `extraHosts`: host names -> IP addresses or "host-gateway", as name/address pairs. A container
 * on network "none" has no host to reach, so "host-gateway" there is a problem.
 */
export function resolveExtraHosts(
  c: ContainerConfig,
  network: string,
  r: Report,
): { name: string; address: string }[] | undefined {
  if (c.extraHosts === undefined) return undefined;
  const out: { name: string; address: string }[] = [];
  for (const [name, given] of Object.entries(c.extraHosts)) {
    if (!HOST_NAME.test(name)) {
      r(["extraHosts", name], 'is not a host name. expected e.g. "db.home.arpa"');
      continue;
    }
    const list = typeof given === "string" ? [given] : given;
    list.forEach((address, i) => {
      const at = typeof given === "string" ? ["extraHosts", name] : ["extraHosts", name, i];
      if (address === "host-gateway" && network === "none")
        r(
          at,
          'is "host-gateway", but on network "none" the container reaches no host. give it a network',
        );
      else if (
        address === "host-gateway" ||
        parseIPv4(address) !== undefined ||
        parseIPv6(address) !== undefined
      )
        out.push({ name, address });
      else r(at, `${JSON.stringify(address)} is not an IP address or "host-gateway"`);
    });
  }
  return out;
}

/** `dns`: addresses, domain names and resolver options, for a container with a network to use. */
export function resolveDns(
  c: ContainerConfig,
  network: string,
  r: Report,
): { servers: string[]; search: string[]; options: string[] } | undefined {
  if (c.dns === undefined) return undefined;
  if (network === "none" || network === "host") {
    r(
      ["dns"],
      `is for a container with a network of its own; on network "${network}" its resolv.conf is ${network === "host" ? "the host's" : "empty"}`,
    );
    return undefined;
  }
  const check = (
    key: string,
    list: readonly string[] | undefined,
    ok: (s: string) => boolean,
    what: string,
  ) =>
    (list ?? []).filter((s, i) => {
      if (ok(s)) return true;
      r(["dns", key, i], `${JSON.stringify(s)} is not ${what}`);
      return false;
    });
  return {
    servers: check(
      "servers",
      c.dns.servers,
      (s) => parseIPv4(s) !== undefined || parseIPv6(s) !== undefined,
      'an IP address, e.g. "9.9.9.9"',
    ),
    search: check(
      "search",
      c.dns.search,
      (s) => /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*\.?)*$/.test(s),
      'a domain name, e.g. "home.arpa"',
    ),
    options: check(
      "options",
      c.dns.options,
      (s) => /^[a-z0-9_-]+(:\d+)?$/i.test(s),
      'a resolver option, e.g. "ndots:2"',
    ),
  };
}
