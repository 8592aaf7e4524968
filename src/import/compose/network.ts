/** Networks: a service's network mode, networks and aliases, its ports, and the top-level networks. */
import { isRecord } from "../../util/record.js";
import { BUILTIN_NETWORKS, joinedOwner } from "../../model/network.js";
import { parsePorts, formatPorts, type PortSpec } from "../../model/parse.js";
import type { ContainerConfig, NetworkConfig } from "../../model/types.js";
import { type Obj, type Path, Reader, describe, type ServiceRead } from "./reader.js";

/**
 * Ports on IPv6 addresses that railyard cannot publish as compose would are left out, each
 * named: UDP on [::1] (railyard proxies [::1] over TCP), and any other IPv6 address on a network
 * without enable_ipv6 (docker proxies it to IPv4 in a process; railyard's kernel forwarding
 * needs an IPv6 address in the container).
 */
export function ipv6Ports(
  name: string,
  c: ContainerConfig,
  networks: Readonly<Record<string, NetworkConfig>>,
  r: Reader,
): void {
  if (!c.ports) return;
  const first = Array.isArray(c.networks)
    ? c.networks[0]
    : c.networks
      ? Object.keys(c.networks)[0]
      : c.network;
  const dual = first !== undefined && networks[first]?.ipv6 !== undefined;
  c.ports = c.ports.filter((spec, i) => {
    const ip = /^\[([^\]]+)\]/.exec(spec)?.[1];
    if (ip === undefined) return true;
    const why =
      ip === "::1" && spec.endsWith("/udp")
        ? "UDP on [::1] is not published (railyard proxies [::1] over TCP); publish it on 127.0.0.1"
        : ip !== "::1" && !dual
          ? `publishing on [${ip}] needs an IPv6 network: set enable_ipv6: true on ${first ?? "the service's network"}`
          : undefined;
    if (why !== undefined)
      r.warn(["services", name, "ports", i], `${JSON.stringify(spec)}: ${why}; left out`);
    return why === undefined;
  });
  if (c.ports.length === 0) delete c.ports;
}

/** A compose network's name as railyard's (1 to 12 of a-z, 0-9, "-", "_"). */
export function networkName(name: string): string {
  const n = name
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "-")
    .replace(/^[-_]+/, "");
  return (n || "net").slice(0, 12);
}

/**
 * The network of one service: network_mode "host" and "none" as they are, "service:X" and
 * "container:X" as "container:X" (joining X's namespace); otherwise the compose networks it
 * joins (`networks`, with their aliases, where there are several or aliases), or compose's
 * implicit "default" network that every service without `networks` shares, so that services
 * still reach each other by name. "private-NAME", the way railyard exports network "private",
 * reads back as "private".
 */
export function serviceNetwork(
  s: Obj,
  at: Path,
  r: Reader,
): Pick<ContainerConfig, "network" | "networks"> {
  const mode = s["network_mode"];
  if (mode === "host" || mode === "none") return { network: mode };
  // The VPN-sidecar pattern: join another service's (or container's) network namespace.
  const joined =
    typeof mode === "string" ? /^(?:service|container):(.+)$/.exec(mode)?.[1] : undefined;
  if (joined !== undefined) return { network: `container:${joined}` };
  if (mode !== undefined) {
    r.warn(
      [...at, "network_mode"],
      `${JSON.stringify(mode)} is not imported; the container gets network "private" (its own, reachable only through its published ports)`,
    );
    return { network: "private" };
  }
  const nets = s["networks"];
  if (nets === undefined) return { network: "default" };
  if (!Array.isArray(nets) && !isRecord(nets)) {
    r.problem([...at, "networks"], `expected a list or a map of networks, got ${describe(nets)}`);
    return { network: "default" };
  }
  const given: [string, string[]][] = Array.isArray(nets)
    ? r.strings(nets, [...at, "networks"]).map((n) => [n, []])
    : Object.entries(nets).map(([n, v]) => [n, attachmentAliases(v, [...at, "networks", n], r)]);
  const first = given[0]?.[0];
  if (first === undefined) return { network: "default" };
  // railyard export's form of network "private": a network of the service's own.
  if (given.length === 1 && first === `private-${String(at[at.length - 1])}`)
    return { network: "private" };
  for (const [n] of given)
    if (networkName(n) !== n)
      r.warn([...at, "networks", n], `${n} becomes ${networkName(n)}, a name railyard accepts`);
  if (given.length === 1 && given[0]?.[1].length === 0) return { network: networkName(first) };
  return Array.isArray(nets)
    ? { networks: given.map(([n]) => networkName(n)) }
    : {
        networks: Object.fromEntries(
          given.map(([n, aliases]) => [networkName(n), aliases.length > 0 ? { aliases } : {}]),
        ),
      };
}

/** A service's aliases on one network (`networks: {NET: {aliases: [...]}}`); the rest is named. */
export function attachmentAliases(v: unknown, path: Path, r: Reader): string[] {
  if (v === null || v === undefined) return [];
  if (!isRecord(v)) {
    r.problem(path, `expected a map or nothing, got ${describe(v)}`);
    return [];
  }
  const left = Object.keys(v).filter((k) => k !== "aliases");
  if (left.length > 0)
    r.warn(
      path,
      `${left.join(", ")} not imported; railyard gives each member an address of its own choosing`,
    );
  return v["aliases"] === undefined ? [] : r.strings(v["aliases"], [...path, "aliases"]);
}

/** The networks the imported containers join, with the subnets compose's ipam gives them. */
export function declaredNetworks(
  raw: unknown,
  containers: Readonly<Record<string, ContainerConfig>>,
  r: Reader,
): Record<string, NetworkConfig> {
  const top = isRecord(raw) ? raw : {};
  const used = new Set(
    Object.values(containers).flatMap((c) =>
      c.networks === undefined
        ? [c.network ?? ""]
        : Array.isArray(c.networks)
          ? c.networks
          : Object.keys(c.networks),
    ),
  );
  const out: Record<string, NetworkConfig> = {};
  const byName = new Map(Object.keys(top).map((n) => [networkName(n), n]));
  const declared = (n: string) =>
    n !== "" && !BUILTIN_NETWORKS.includes(n) && joinedOwner({ network: n }) === undefined;
  for (const name of [...used].filter(declared).sort()) {
    const composeName = byName.get(name) ?? name;
    const def = top[composeName];
    const net: NetworkConfig = {};
    if (isRecord(def)) {
      const path: Path = ["networks", composeName];
      const cfg = isRecord(def["ipam"]) ? def["ipam"]["config"] : undefined;
      // An IPv4 subnet and, on a network with enable_ipv6, an IPv6 one.
      const subnets = (Array.isArray(cfg) ? cfg : [])
        .map((c) => (isRecord(c) ? c["subnet"] : undefined))
        .filter((x): x is string => typeof x === "string");
      const v4 = subnets.find((x) => !x.includes(":"));
      const v6 = subnets.find((x) => x.includes(":"));
      if (v4 !== undefined) net.subnet = v4;
      if (def["enable_ipv6"] === true) net.ipv6 = v6 ?? true;
      const left = Object.keys(def).filter(
        (k) => k !== "ipam" && k !== "enable_ipv6" && !(k === "driver" && def[k] === "bridge"),
      );
      if (left.length > 0)
        r.warn(path, `${left.join(", ")} not imported; railyard's networks are bridges of its own`);
    }
    out[name] = net;
  }
  return out;
}

export function ports({ s, at, r, c }: ServiceRead): void {
  const v = s["ports"];
  const path = [...at, "ports"];
  if (v === undefined) return;
  if (!Array.isArray(v)) return r.problem(path, `expected a list, got ${describe(v)}`);
  const out: string[] = [];
  v.forEach((item, i) => {
    const p = [...path, i];
    let spec: string | undefined;
    if (isRecord(item)) {
      const target = item["target"];
      const published = item["published"];
      const ip = item["host_ip"];
      const proto = item["protocol"] ?? "tcp";
      spec = `${ip !== undefined ? `${String(ip).includes(":") ? `[${String(ip)}]` : String(ip)}:` : ""}${published !== undefined ? `${String(published)}:` : ""}${String(target)}/${String(proto)}`;
      if (item["mode"] !== undefined && item["mode"] !== "host")
        r.warn([...p, "mode"], "is not imported");
    } else spec = r.string(item, p);
    if (spec === undefined) return;
    // "ip::80" and "80" ask compose for a random host port; railyard publishes the same number.
    const fixed = spec.replace(/::(?=\d+(?:-\d+)?(?:\/\w+)?$)/, ":");
    const parsed = parsePorts(fixed.replace(/\/tcp$/, ""));
    if (!parsed.ok) return r.problem(p, parsed.error);
    const first = parsed.value[0] as PortSpec;
    if (first.hostPort === undefined)
      r.warn(
        p,
        `${JSON.stringify(spec)} asks for a random host port; railyard publishes ${parsed.value.length > 1 ? "the same numbers" : first.containerPort}`,
      );
    // Compose publishes a port without an address on every address; railyard would not.
    if (first.hostIp === undefined)
      r.warn(
        p,
        `${JSON.stringify(spec)} is published on every address (0.0.0.0), as compose does, which bypasses the host firewall; write 127.0.0.1 to keep it local`,
      );
    out.push(...formatPorts(parsed.value.map((q) => ({ hostIp: "0.0.0.0", ...q }))));
  });
  if (out.length > 0) c.ports = out;
}
