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

/** `"10.91.3.0/24"` -> a subnet, or an error that says what is expected. */
export function parseSubnet(
  s: string,
  minPrefix = 16,
  maxPrefix = 29,
): { ok: true; value: Subnet } | { ok: false; error: string } {
  const expected = `expected an IPv4 subnet "a.b.c.d/len" with len ${minPrefix} to ${maxPrefix}, e.g. "10.91.3.0/24"`;
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(s);
  const base = m ? parseIPv4(m[1] as string) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (base === undefined || !(prefix >= minPrefix && prefix <= maxPrefix))
    return {
      ok: false,
      error: `${JSON.stringify(s)} is not a subnet railyard can use. ${expected}`,
    };
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) {
    const aligned = formatSubnet({ base: base - (base % size), prefix });
    return {
      ok: false,
      error: `${JSON.stringify(s)} has host bits set. did you mean "${aligned}"?`,
    };
  }
  return { ok: true, value: { base, prefix } };
}

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
