/**
 * Addresses for containers on private and named networks. Pure. Allocation is stable: a
 * container keeps the address the running generation gave it, so a switch that adds or removes
 * one container changes no other container's unit (and restarts nothing else).
 */
import type { ResolvedAttachment, ResolvedConfig, ResolvedContainer } from "../config/types.js";
import { NetworkError } from "../errors.js";
import {
  contains,
  formatIPv4,
  formatSubnet,
  overlaps,
  parseIPv4,
  parseSubnet,
  subnetSize,
  type Subnet,
} from "./address.js";

/** Network "private": each container gets a /31 of this pool, the host holds the other half. */
export const PRIVATE_POOL: Subnet = { base: parseIPv4("10.90.0.0") as number, prefix: 16 };
/** Named networks without a `subnet` get the first free /24 of this pool. */
export const NAMED_POOL: Subnet = { base: parseIPv4("10.91.0.0") as number, prefix: 16 };
export const NAMED_DEFAULT_PREFIX = 24;

export interface NamedNetworkAllocation {
  /** "a.b.c.d/len"; the gateway (the host's bridge) is the first host address. */
  readonly subnet: string;
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

/**
 * The named networks a container is on, its first network first. A generation written before
 * containers had `networks` says it with `network` alone.
 */
export function attachmentsOf(
  c: Pick<ResolvedContainer, "network"> & { readonly networks?: readonly ResolvedAttachment[] },
  config: Pick<ResolvedConfig, "networks">,
): readonly ResolvedAttachment[] {
  if (c.networks !== undefined) return c.networks;
  return c.network in config.networks ? [{ name: c.network, aliases: [] }] : [];
}

const sortedNames = (r: Readonly<Record<string, unknown>>) => Object.keys(r).sort();

/**
 * Give every declared network a subnet and every member an address, keeping what `previous`
 * gave where it still fits. Throws NetworkError when a pool or subnet is full.
 */
export function allocateNetworks(
  config: ResolvedConfig,
  previous: NetworkAllocation = EMPTY_ALLOCATION,
): NetworkAllocation {
  const members = (on: (c: ResolvedContainer) => boolean) =>
    Object.values(config.containers)
      .filter((c) => c.backend === "oci" && on(c))
      .map((c) => c.name)
      .sort();
  const onNetwork = (net: string) => (c: ResolvedContainer) =>
    attachmentsOf(c, config).some((a) => a.name === net);

  // Subnets: the config's own first, then what the running generation had, then fresh ones.
  const subnets = new Map<string, Subnet>();
  const taken = () => [...subnets.values()];
  for (const n of sortedNames(config.networks)) {
    const s = config.networks[n]?.subnet;
    if (s !== undefined) subnets.set(n, parseAllocatedSubnet(s));
  }
  for (const n of sortedNames(config.networks)) {
    const before = previous.networks[n]?.subnet;
    if (subnets.has(n) || before === undefined) continue;
    const s = parseAllocatedSubnet(before);
    if (!taken().some((t) => overlaps(t, s))) subnets.set(n, s);
  }
  for (const n of sortedNames(config.networks)) {
    if (subnets.has(n)) continue;
    const step = 2 ** (32 - NAMED_DEFAULT_PREFIX);
    let found: Subnet | undefined;
    for (let b = NAMED_POOL.base; b < NAMED_POOL.base + subnetSize(NAMED_POOL); b += step) {
      const s = { base: b, prefix: NAMED_DEFAULT_PREFIX };
      if (!taken().some((t) => overlaps(t, s))) {
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

  const networks: Record<string, NamedNetworkAllocation> = {};
  for (const n of sortedNames(config.networks)) {
    const s = subnets.get(n) as Subnet;
    // Host addresses: after the network address and the gateway, before the broadcast address.
    const first = gatewayOf(s) + 1;
    const last = s.base + subnetSize(s) - 2;
    networks[n] = {
      subnet: formatSubnet(s),
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
    (a) => contains(PRIVATE_POOL, a) && a % 2 === 1,
    (i) => PRIVATE_POOL.base + 2 * i + 1,
    pairs,
    `network "private"`,
    "private",
  );
  return { networks, private: priv };
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
    while (i < capacity && used.has(nth(i))) i++;
    if (i >= capacity)
      throw new NetworkError(`${where}: no free address left for containers.${name}`, network);
    out.set(name, nth(i));
    used.add(nth(i));
  }
  return Object.fromEntries(names.map((n) => [n, formatIPv4(out.get(n) as number)]));
}
