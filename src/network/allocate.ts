/**
 * Addresses for containers on private and named networks. Pure. Allocation is stable: a
 * container keeps the address the running generation gave it, so a switch that adds or removes
 * one container changes no other container's unit (and restarts nothing else).
 */
import type { ResolvedConfig, ResolvedContainer } from "../model/types.js";
import { attachmentsOf, NAMED_DEFAULT_PREFIX, NAMED_POOL, PRIVATE_POOL } from "../model/network.js";
import { NetworkError } from "../errors.js";
import { createHash } from "node:crypto";
import {
  contains,
  formatIPv4,
  formatIPv6,
  formatSubnet,
  formatSubnet6,
  overlaps,
  overlaps6,
  parseIPv4,
  parseSubnet,
  parseSubnet6,
  subnetSize,
  type Subnet,
  type Subnet6,
} from "../model/address.js";

export interface NamedNetworkAllocation {
  /** "a.b.c.d/len"; the gateway (the host's bridge) is the first host address. */
  readonly subnet: string;
  /**
   * A dual-stack network's IPv6 subnet ("prefix::/len"). Each member's IPv6 address has the host
   * number of its IPv4 one (so the bridge is prefix::1, the first member prefix::2).
   */
  readonly subnet6?: string;
  /** Container name -> its address. */
  readonly members: Readonly<Record<string, string>>;
}

/** What one generation's networks look like; stored with the generation as network.json. */
export interface NetworkAllocation {
  readonly networks: Readonly<Record<string, NamedNetworkAllocation>>;
  /** Containers on network "private" -> their address (odd, in its own /31 of PRIVATE_POOL). */
  readonly private: Readonly<Record<string, string>>;
}

export const EMPTY_ALLOCATION: NetworkAllocation = { networks: {}, private: {} };

/** The host's address on a subnet (the bridge): the first host address. */
export const gatewayOf = (s: Subnet): number => s.base + 1;

const sortedNames = (r: Readonly<Record<string, unknown>>) => Object.keys(r).sort();

/**
 * Give every declared network a subnet and every member an address, keeping what `previous`
 * gave where it still fits. Throws NetworkError when a pool or subnet is full.
 */
export function allocateNetworks(
  config: ResolvedConfig,
  previous: NetworkAllocation = EMPTY_ALLOCATION,
  taken: readonly Subnet[] = [],
): NetworkAllocation {
  // Subnets the host routes elsewhere (a LAN, a VPN, another project's networks) are not free.
  const foreign = (s: Subnet) => taken.some((t) => overlaps(t, s));
  // Another project (state dir) starts its search elsewhere in each pool, so that two projects
  // built while the other was stopped rarely pick the same addresses.
  const start = (n: number) =>
    config.idScope === undefined ? 0 : parseInt(config.idScope.slice(0, 6), 16) % n;
  const members = (on: (c: ResolvedContainer) => boolean) =>
    Object.values(config.containers)
      .filter((c) => c.backend === "oci" && on(c))
      .map((c) => c.name)
      .sort();
  const onNetwork = (net: string) => (c: ResolvedContainer) =>
    attachmentsOf(c).some((a) => a.name === net);

  // Subnets: the config's own first, then what the running generation had, then fresh ones.
  const subnets = new Map<string, Subnet>();
  const used = () => [...subnets.values()];
  for (const n of sortedNames(config.networks)) {
    const s = config.networks[n]?.subnet;
    if (s !== undefined) subnets.set(n, parseAllocatedSubnet(s));
  }
  for (const n of sortedNames(config.networks)) {
    const before = previous.networks[n]?.subnet;
    if (subnets.has(n) || before === undefined) continue;
    const s = parseAllocatedSubnet(before);
    if (!used().some((t) => overlaps(t, s)) && !foreign(s)) subnets.set(n, s);
  }
  for (const n of sortedNames(config.networks)) {
    if (subnets.has(n)) continue;
    const step = 2 ** (32 - NAMED_DEFAULT_PREFIX);
    const count = subnetSize(NAMED_POOL) / step;
    let found: Subnet | undefined;
    for (let i = 0; i < count; i++) {
      const s = {
        base: NAMED_POOL.base + ((i + start(count)) % count) * step,
        prefix: NAMED_DEFAULT_PREFIX,
      };
      if (!used().some((t) => overlaps(t, s)) && !foreign(s)) {
        found = s;
        break;
      }
    }
    if (!found)
      throw new NetworkError(
        `networks.${n}: ${formatSubnet(NAMED_POOL)} has no free /${NAMED_DEFAULT_PREFIX} left; give the network a subnet`,
        n,
      );
    subnets.set(n, found);
  }

  const subnets6 = allocateSubnets6(config, previous);
  const networks: Record<string, NamedNetworkAllocation> = {};
  for (const n of sortedNames(config.networks)) {
    const s = subnets.get(n) as Subnet;
    const s6 = subnets6.get(n);
    // Host addresses: after the network address and the gateway, before the broadcast address.
    const first = gatewayOf(s) + 1;
    const last = s.base + subnetSize(s) - 2;
    networks[n] = {
      subnet: formatSubnet(s),
      ...(s6 ? { subnet6: formatSubnet6(s6) } : {}),
      members: assign(
        members(onNetwork(n)),
        previous.networks[n]?.members ?? {},
        (a) => a >= first && a <= last,
        (i) => first + i,
        last - first + 1,
        `networks.${n}`,
        n,
      ),
    };
  }
  const pairs = subnetSize(PRIVATE_POOL) / 2;
  const priv = assign(
    members((c) => c.network === "private"),
    previous.private,
    (a) => contains(PRIVATE_POOL, a) && a % 2 === 1 && !foreign({ base: a - 1, prefix: 31 }),
    (i) => PRIVATE_POOL.base + 2 * ((i + start(pairs)) % pairs) + 1,
    pairs,
    `network "private"`,
    "private",
  );
  return { networks, private: priv };
}

/**
 * IPv6 subnets of dual-stack networks: the config's own, else what the running generation had,
 * else a unique local /64 (RFC 4193) whose 40-bit global ID is a hash of the state dir and the
 * network's name: stable across builds, and different for another project on the same host.
 */
function allocateSubnets6(
  config: ResolvedConfig,
  previous: NetworkAllocation,
): Map<string, Subnet6> {
  const out = new Map<string, Subnet6>();
  const names = sortedNames(config.networks).filter((n) => config.networks[n]?.ipv6 !== undefined);
  const parsed = (s: string) => {
    const p = parseSubnet6(s);
    return p.ok ? p.value : undefined;
  };
  for (const n of names) {
    const given = config.networks[n]?.ipv6;
    const s = typeof given === "string" ? parsed(given) : undefined;
    if (s) out.set(n, s);
  }
  const free = (s: Subnet6) => ![...out.values()].some((t) => overlaps6(t, s));
  for (const n of names) {
    if (out.has(n)) continue;
    const before = previous.networks[n]?.subnet6;
    const kept = before === undefined ? undefined : parsed(before);
    if (kept && free(kept)) {
      out.set(n, kept);
      continue;
    }
    for (let i = 0; ; i++) {
      const h = createHash("sha256").update(`${config.stateDir}\0${n}\0${i}`).digest();
      const globalId = BigInt(`0x${h.subarray(0, 5).toString("hex")}`);
      const s = { base: ((0xfdn << 40n) | globalId) << 80n, prefix: 64 };
      if (free(s)) {
        out.set(n, s);
        break;
      }
    }
  }
  return out;
}

/** A member's IPv6 address on a dual-stack network: its IPv4 address's host number there. */
export function ipv6Of(net: NamedNetworkAllocation, v4: string): string | undefined {
  if (net.subnet6 === undefined) return undefined;
  const s6 = parseSubnet6(net.subnet6);
  const a = parseIPv4(v4);
  if (!s6.ok || a === undefined) return undefined;
  return formatIPv6(s6.value.base + BigInt(a - parseAllocatedSubnet(net.subnet).base));
}

/** A subnet as an allocation (or the config, already checked) stores it. */
export function parseAllocatedSubnet(s: string): Subnet {
  const r = parseSubnet(s, 8, 30);
  if (!r.ok) throw new NetworkError(r.error, s);
  return r.value;
}

/** Keep each member's previous address if it is still valid and free; the rest get the lowest free. */
function assign(
  names: readonly string[],
  previous: Readonly<Record<string, string>>,
  valid: (a: number) => boolean,
  nth: (i: number) => number,
  capacity: number,
  where: string,
  network: string,
): Record<string, string> {
  const out = new Map<string, number>();
  const used = new Set<number>();
  for (const name of names) {
    const a = parseIPv4(previous[name] ?? "");
    if (a !== undefined && valid(a) && !used.has(a)) {
      out.set(name, a);
      used.add(a);
    }
  }
  let i = 0;
  for (const name of names) {
    if (out.has(name)) continue;
    while (i < capacity && (used.has(nth(i)) || !valid(nth(i)))) i++;
    if (i >= capacity)
      throw new NetworkError(`${where}: no free address left for containers.${name}`, network);
    out.set(name, nth(i));
    used.add(nth(i));
  }
  return Object.fromEntries(names.map((n) => [n, formatIPv4(out.get(n) as number)]));
}
