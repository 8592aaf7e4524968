/** Parser for glibc's /etc/ld.so.cache ("glibc-ld.so.cache1.1", optionally after the old "ld.so-1.7.0" table). */

export interface LdCacheEntry {
  readonly name: string;
  readonly path: string;
  readonly flags: number;
  readonly hwcap: bigint;
}

const OLD_MAGIC = "ld.so-1.7.0";
const NEW_MAGIC = "glibc-ld.so.cache1.1";

/** Returns the cache's entries in file order (ld.so's preference order), or [] if unrecognised. */
export function parseLdCache(buf: Buffer): LdCacheEntry[] {
  let base = 0;
  if (buf.toString("latin1", 0, OLD_MAGIC.length) === OLD_MAGIC) {
    if (buf.length < 16) return [];
    const nlibs = buf.readUInt32LE(12);
    base = 16 + nlibs * 12;
    base = (base + 7) & ~7;
  }
  if (buf.toString("latin1", base, base + NEW_MAGIC.length) !== NEW_MAGIC) return [];
  const nlibs = buf.readUInt32LE(base + 20);
  const HEADER = 48;
  const ENTRY = 24;
  if (base + HEADER + nlibs * ENTRY > buf.length) return [];
  const str = (off: number) => {
    // String offsets are relative to the new-format header.
    const start = base + off;
    const end = buf.indexOf(0, start);
    return buf.toString("utf8", start, end === -1 ? buf.length : end);
  };
  const out: LdCacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const o = base + HEADER + i * ENTRY;
    out.push({
      flags: buf.readInt32LE(o),
      name: str(buf.readUInt32LE(o + 4)),
      path: str(buf.readUInt32LE(o + 8)),
      hwcap: buf.readBigUInt64LE(o + 16),
    });
  }
  return out;
}
