import { Writable } from "node:stream";

/**
 * A streaming tar reader (ustar, GNU long names, PAX), pure: feed it bytes, it calls back with
 * each entry's header and data. Strict by design: a bad checksum, an unknown entry type or a
 * stream that ends inside an entry is an error, never a guess.
 */

export type TarEntryType = "file" | "hardlink" | "symlink" | "char" | "block" | "dir" | "fifo";

export interface TarHeader {
  /** The entry's path exactly as the archive spells it (after PAX/GNU overrides). */
  readonly path: string;
  readonly type: TarEntryType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
  /** Byte offset of the header in the uncompressed stream, for error messages. */
  readonly offset: number;
}

export class TarFormatError extends Error {
  override name = "TarFormatError";
}

export interface TarHandlers {
  /** A new entry. Its data (size bytes) follows through `data` calls, then `end`. */
  entry(h: TarHeader): void;
  data(chunk: Buffer): void;
  end(): void;
}

export interface TarLimits {
  /** Largest PAX or GNU long-name record accepted. @default 1 MiB */
  readonly maxMetaSize?: number;
}

const BLOCK = 512;
const TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "dir",
  "6": "fifo",
};

function cstring(b: Buffer, start: number, len: number): string {
  const end = b.indexOf(0, start);
  return b.toString("utf8", start, end === -1 || end > start + len ? start + len : end);
}

/** Octal ASCII, or GNU base-256 when the high bit of the first byte is set. */
function number(b: Buffer, start: number, len: number, field: string, offset: number): number {
  const first = b[start] ?? 0;
  if (first & 0x80) {
    let v = BigInt(first & 0x7f);
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(b[start + i] ?? 0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
      throw new TarFormatError(`${field} too large at offset ${offset}`);
    return Number(v);
  }
  const s = b
    .toString("latin1", start, start + len)
    .replace(/[\0 ]+$/, "")
    .replace(/^ +/, "");
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s))
    throw new TarFormatError(`invalid ${field} ${JSON.stringify(s)} at offset ${offset}`);
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 32 : (h[i] as number);
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  const stored = parseInt(h.toString("latin1", 148, 156).replace(/[\0 ]+/g, ""), 8);
  return stored === unsigned || stored === signed;
}

/** PAX records: "%d %s=%s\n". */
export function parsePax(b: Buffer, offset: number): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < b.length) {
    if (b[i] === 0) break;
    const sp = b.indexOf(0x20, i);
    if (sp === -1) throw new TarFormatError(`bad PAX record at offset ${offset}`);
    const len = Number(b.toString("latin1", i, sp));
    if (!Number.isInteger(len) || len <= sp - i || i + len > b.length || b[i + len - 1] !== 0x0a)
      throw new TarFormatError(`bad PAX record length at offset ${offset}`);
    const rec = b.toString("utf8", sp + 1, i + len - 1);
    const eq = rec.indexOf("=");
    if (eq <= 0) throw new TarFormatError(`bad PAX record at offset ${offset}`);
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

/** Push-style reader: call `write` with each chunk and `finish` at end of stream. */
export class TarReader {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0; // absolute offset of buf[0]
  private remaining = 0; // data bytes left in the current entry
  private padding = 0; // padding bytes after it
  private meta:
    | { kind: "pax" | "global" | "longname" | "longlink"; chunks: Buffer[]; size: number }
    | undefined;
  private pax = new Map<string, string>();
  private globalPax = new Map<string, string>();
  private longname: string | undefined;
  private longlink: string | undefined;
  private zeroBlocks = 0;
  private done = false;
  private inEntry = false;
  private readonly maxMeta: number;

  constructor(
    private readonly h: TarHandlers,
    limits: TarLimits = {},
  ) {
    this.maxMeta = limits.maxMetaSize ?? 1 << 20;
  }

  write(chunk: Buffer): void {
    if (this.done) return; // bytes after the end-of-archive marker are ignored, as tar(1) does
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let at = 0;
    while (!this.done) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, this.buf.length - at);
        if (n === 0) break;
        const piece = this.buf.subarray(at, at + n);
        if (this.meta) this.meta.chunks.push(Buffer.from(piece));
        else this.h.data(piece);
        at += n;
        this.remaining -= n;
        if (this.remaining === 0) this.finishData();
        continue;
      }
      if (this.padding > 0) {
        const n = Math.min(this.padding, this.buf.length - at);
        if (n === 0) break;
        at += n;
        this.padding -= n;
        continue;
      }
      if (this.buf.length - at < BLOCK) break;
      this.header(this.buf.subarray(at, at + BLOCK), this.pos + at);
      at += BLOCK;
    }
    this.pos += at;
    this.buf = this.buf.subarray(at);
  }

  /** End of input: anything but a clean entry boundary is a truncated archive. */
  finish(): void {
    if (this.done) return;
    if (this.remaining > 0 || this.padding > 0 || this.buf.length > 0 || this.meta || this.inEntry)
      throw new TarFormatError(
        `truncated archive: the stream ends inside an entry at offset ${this.pos}`,
      );
    // A clean EOF at a header boundary without the two zero blocks is accepted, as Go's archive/tar does.
    this.done = true;
  }

  private finishData(): void {
    if (this.meta) {
      const m = this.meta;
      this.meta = undefined;
      const body = Buffer.concat(m.chunks);
      if (m.kind === "pax") this.pax = parsePax(body, this.pos);
      else if (m.kind === "global")
        for (const [k, v] of parsePax(body, this.pos)) this.globalPax.set(k, v);
      else if (m.kind === "longname") this.longname = cstring(body, 0, body.length);
      else this.longlink = cstring(body, 0, body.length);
      return;
    }
    this.inEntry = false;
    this.h.end();
  }

  private header(b: Buffer, offset: number): void {
    if (b.every((x) => x === 0)) {
      if (++this.zeroBlocks >= 2) this.done = true;
      return;
    }
    if (this.zeroBlocks > 0)
      throw new TarFormatError(`a lone zero block at offset ${offset - BLOCK}`);
    if (!checksumOk(b))
      throw new TarFormatError(
        `header checksum mismatch at offset ${offset}: not a tar archive, or corrupt`,
      );
    const typeflag = String.fromCharCode(b[156] ?? 0);
    const size = number(b, 124, 12, "size", offset);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const metaKind = { x: "pax", g: "global", L: "longname", K: "longlink" }[typeflag] as
      "pax" | "global" | "longname" | "longlink" | undefined;
    if (metaKind) {
      if (size > this.maxMeta)
        throw new TarFormatError(
          `${metaKind} record of ${size} bytes at offset ${offset} exceeds ${this.maxMeta}`,
        );
      this.meta = { kind: metaKind, chunks: [], size };
      this.remaining = size;
      this.padding = padded - size;
      if (size === 0) this.finishData();
      return;
    }
    const type = TYPES[typeflag];
    if (!type)
      throw new TarFormatError(
        `unsupported entry type ${JSON.stringify(typeflag)} at offset ${offset}`,
      );
    const magic = b.toString("latin1", 257, 263);
    const prefix = magic === "ustar\0" ? cstring(b, 345, 155) : "";
    let path = this.longname ?? (prefix ? `${prefix}/${cstring(b, 0, 100)}` : cstring(b, 0, 100));
    let linkname = this.longlink ?? cstring(b, 157, 100);
    const pax = new Map([...this.globalPax, ...this.pax]);
    path = pax.get("path") ?? path;
    linkname = pax.get("linkpath") ?? linkname;
    const paxNum = (k: string, d: number) => {
      const v = pax.get(k);
      if (v === undefined) return d;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0)
        throw new TarFormatError(`bad PAX ${k} ${JSON.stringify(v)} at offset ${offset}`);
      return Math.floor(n);
    };
    const dataSize = type === "file" ? paxNum("size", size) : 0;
    const header: TarHeader = {
      path,
      type,
      mode: number(b, 100, 8, "mode", offset) & 0o7777,
      uid: paxNum("uid", number(b, 108, 8, "uid", offset)),
      gid: paxNum("gid", number(b, 116, 8, "gid", offset)),
      size: dataSize,
      mtime: paxNum("mtime", number(b, 136, 12, "mtime", offset)),
      linkname,
      devmajor: type === "char" || type === "block" ? number(b, 329, 8, "devmajor", offset) : 0,
      devminor: type === "char" || type === "block" ? number(b, 337, 8, "devminor", offset) : 0,
      offset,
    };
    this.pax = new Map();
    this.longname = undefined;
    this.longlink = undefined;
    this.inEntry = true;
    this.h.entry(header);
    // Non-file entries may still carry a size field; their bytes are skipped, never interpreted.
    const skip = type === "file" ? dataSize : size;
    this.remaining = skip;
    this.padding = Math.ceil(skip / BLOCK) * BLOCK - skip;
    if (skip === 0 || type !== "file") {
      if (type !== "file" && skip > 0) {
        // Route the ignored bytes nowhere: treat them as padding.
        this.padding += this.remaining;
        this.remaining = 0;
      }
      this.inEntry = false;
      this.h.end();
    }
  }
}

/**
 * A Writable that feeds a TarReader, turning its errors into stream errors and checking the
 * archive is complete at the end. `onChunk` sees every chunk first (hashing, byte limits).
 */
export function tarSink(reader: TarReader, onChunk?: (chunk: Buffer) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      try {
        onChunk?.(chunk);
        reader.write(chunk);
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
    final(cb) {
      try {
        reader.finish();
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  });
}
