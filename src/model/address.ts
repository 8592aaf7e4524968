/** IPv4 addresses and subnets as numbers. Pure. */

/** An IPv4 subnet: its first address and prefix length. */
export interface Subnet {
  readonly base: number;
  readonly prefix: number;
}

/** Parse a dotted-quad address; undefined if it is not one. */
export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return octets.reduce((a, o) => a * 256 + o, 0);
}

export function formatIPv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

export const subnetSize = (s: Subnet): number => 2 ** (32 - s.prefix);

export const formatSubnet = (s: Subnet): string => `${formatIPv4(s.base)}/${s.prefix}`;

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** What parsing a subnet needs to know of an address family; addresses are bigints to mask. */
interface Family<N> {
  readonly form: string;
  readonly example: string;
  readonly pattern: RegExp;
  readonly bits: number;
  readonly parse: (s: string) => N | undefined;
  readonly big: (n: N) => bigint;
  readonly of: (n: bigint) => N;
  readonly format: (s: { base: N; prefix: number }) => string;
}

function parseSubnetOf<N>(
  f: Family<N>,
  s: string,
  minPrefix: number,
  maxPrefix: number,
): Parsed<{ base: N; prefix: number }> {
  const expected = `expected ${f.form} with len ${minPrefix} to ${maxPrefix}, e.g. ${f.example}`;
  const m = f.pattern.exec(s);
  const base = m ? f.parse(m[1] as string) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (base === undefined || !(prefix >= minPrefix && prefix <= maxPrefix))
    return {
      ok: false,
      error: `${JSON.stringify(s)} is not a subnet railyard can use. ${expected}`,
    };
  const hostBits = (1n << BigInt(f.bits - prefix)) - 1n;
  if ((f.big(base) & hostBits) !== 0n) {
    const aligned = f.format({ base: f.of(f.big(base) & ~hostBits), prefix });
    return {
      ok: false,
      error: `${JSON.stringify(s)} has host bits set. did you mean "${aligned}"?`,
    };
  }
  return { ok: true, value: { base, prefix } };
}

const IPV4: Family<number> = {
  form: 'an IPv4 subnet "a.b.c.d/len"',
  example: '"10.91.3.0/24"',
  pattern: /^([0-9.]+)\/(\d{1,2})$/,
  bits: 32,
  parse: parseIPv4,
  big: BigInt,
  of: Number,
  format: (s) => formatSubnet(s),
};

/** `"10.91.3.0/24"` -> a subnet, or an error that says what is expected. */
export const parseSubnet = (s: string, minPrefix = 16, maxPrefix = 29): Parsed<Subnet> =>
  parseSubnetOf(IPV4, s, minPrefix, maxPrefix);

export function overlaps(a: Subnet, b: Subnet): boolean {
  return a.base < b.base + subnetSize(b) && b.base < a.base + subnetSize(a);
}

export function contains(s: Subnet, address: number): boolean {
  return address >= s.base && address < s.base + subnetSize(s);
}

/** One IPv4 route of the host, as /proc/net/route lists it. */
export interface HostRoute {
  readonly iface: string;
  readonly subnet: Subnet;
}

/** /proc/net/route: addresses are hex in host (little-endian) byte order. Default routes are left out. */
export function parseProcRoute(text: string): HostRoute[] {
  const le = (hex: string) => {
    const n = parseInt(hex, 16);
    return (
      ((n & 0xff) * 2 ** 24 +
        ((n >>> 8) & 0xff) * 2 ** 16 +
        ((n >>> 16) & 0xff) * 256 +
        (n >>> 24)) >>>
      0
    );
  };
  const routes: HostRoute[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const mask = le(f[7] as string);
    const prefix = 32 - Math.log2(2 ** 32 - mask);
    if (mask === 0 || !Number.isInteger(prefix)) continue;
    routes.push({ iface: f[0] as string, subnet: { base: le(f[1] as string), prefix } });
  }
  return routes;
}

/** An IPv6 subnet: its first address (128 bits) and prefix length. */
export interface Subnet6 {
  readonly base: bigint;
  readonly prefix: number;
}

/**
 * Parse an IPv6 address (RFC 4291 text forms, "::" and an IPv4 tail included, no zone);
 * undefined if it is not one.
 */
export function parseIPv6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.split("::").length > 2) return undefined;
  let text = s;
  const tail = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const v4 = parseIPv4(tail[1] as string);
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, tail.index + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const [head = "", rest] = text.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const missing = 8 - left.length - right.length;
  if (rest === undefined ? missing !== 0 : missing < 1) return undefined;
  const all = [...left, ...Array<string>(rest === undefined ? 0 : missing).fill("0"), ...right];
  if (all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return all.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** An IPv6 address in RFC 5952's form: lower case, the longest run of zero groups as "::". */
export function formatIPv6(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(":");
  return `${hex.slice(0, best.at).join(":")}::${hex.slice(best.at + best.len).join(":")}`;
}

export const formatSubnet6 = (s: Subnet6): string => `${formatIPv6(s.base)}/${s.prefix}`;

const IPV6: Family<bigint> = {
  form: 'an IPv6 subnet "prefix::/len"',
  example: '"fd00:91:7::/64"',
  pattern: /^([0-9a-fA-F:.]+)\/(\d{1,3})$/,
  bits: 128,
  parse: parseIPv6,
  big: (n) => n,
  of: (n) => n,
  format: (s) => formatSubnet6(s),
};

/** `"fd12:3456:789a:1::/64"` -> a subnet, or an error that says what is expected. */
export const parseSubnet6 = (s: string, minPrefix = 48, maxPrefix = 120): Parsed<Subnet6> =>
  parseSubnetOf(IPV6, s, minPrefix, maxPrefix);

export function overlaps6(a: Subnet6, b: Subnet6): boolean {
  const size = (s: Subnet6) => 1n << BigInt(128 - s.prefix);
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}
