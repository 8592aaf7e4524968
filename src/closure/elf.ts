/** Just enough of ELF to find a program's loader and the libraries it needs. Pure over bytes. */

export interface ElfInfo {
  readonly class: 32 | 64;
  readonly littleEndian: boolean;
  readonly machine: number;
  /** PT_INTERP: the dynamic loader, e.g. /lib64/ld-linux-x86-64.so.2. */
  readonly interpreter?: string;
  readonly needed: readonly string[];
  readonly rpath: readonly string[];
  readonly runpath: readonly string[];
  readonly soname?: string;
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_SONAME = 14;
const DT_RPATH = 15;
const DT_RUNPATH = 29;

/** Reads `length` bytes at `offset` of the file being parsed. */
export type ReadAt = (offset: number, length: number) => Buffer;

export function isElf(head: Buffer): boolean {
  return head.length >= 4 && head[0] === 0x7f && head.toString("latin1", 1, 4) === "ELF";
}

export class ElfFormatError extends Error {
  override name = "ElfFormatError";
}

interface Segment {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

/** Parse the ELF headers and dynamic section. Throws ElfFormatError on malformed input. */
export function parseElf(readAt: ReadAt): ElfInfo {
  const h = readAt(0, 64);
  if (!isElf(h) || h.length < 52) throw new ElfFormatError("not an ELF file");
  const cls = h[4] === 2 ? 64 : h[4] === 1 ? 32 : undefined;
  const le = h[5] === 1 ? true : h[5] === 2 ? false : undefined;
  if (cls === undefined || le === undefined)
    throw new ElfFormatError("unknown ELF class or byte order");
  const is64 = cls === 64;
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const uN = (b: Buffer, o: number) =>
    is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o);
  if (is64 && h.length < 64) throw new ElfFormatError("truncated ELF header");

  const machine = u16(h, 18);
  const phoff = is64 ? uN(h, 32) : u32(h, 28);
  const phentsize = u16(h, is64 ? 54 : 42);
  const phnum = u16(h, is64 ? 56 : 44);
  if (phnum > 4096 || phentsize < (is64 ? 56 : 32))
    throw new ElfFormatError("bad program header table");
  const ph = readAt(phoff, phentsize * phnum);
  if (ph.length < phentsize * phnum) throw new ElfFormatError("truncated program header table");

  const segs: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = i * phentsize;
    segs.push(
      is64
        ? { type: u32(ph, o), offset: uN(ph, o + 8), vaddr: uN(ph, o + 16), filesz: uN(ph, o + 32) }
        : {
            type: u32(ph, o),
            offset: u32(ph, o + 4),
            vaddr: u32(ph, o + 8),
            filesz: u32(ph, o + 16),
          },
    );
  }

  const cstr = (b: Buffer, o: number) => {
    const end = b.indexOf(0, o);
    return b.toString("utf8", o, end === -1 ? b.length : end);
  };

  let interpreter: string | undefined;
  const interp = segs.find((s) => s.type === PT_INTERP);
  if (interp) interpreter = cstr(readAt(interp.offset, Math.min(interp.filesz, 4096)), 0);

  const needed: string[] = [];
  const rpath: string[] = [];
  const runpath: string[] = [];
  let soname: string | undefined;
  const dyn = segs.find((s) => s.type === PT_DYNAMIC);
  if (dyn) {
    const entsize = is64 ? 16 : 8;
    const d = readAt(dyn.offset, Math.min(dyn.filesz, 1 << 20));
    const entries: [number, number][] = [];
    for (let o = 0; o + entsize <= d.length; o += entsize) {
      const tag = is64 ? uN(d, o) : u32(d, o);
      if (tag === 0) break;
      entries.push([tag, is64 ? uN(d, o + 8) : u32(d, o + 4)]);
    }
    const strtabAddr = entries.find(([t]) => t === DT_STRTAB)?.[1];
    const strsz = entries.find(([t]) => t === DT_STRSZ)?.[1] ?? 0;
    if (strtabAddr !== undefined) {
      // DT_STRTAB is a virtual address: map it to a file offset through the PT_LOAD segments.
      const load = segs.find(
        (s) => s.type === PT_LOAD && s.vaddr <= strtabAddr && strtabAddr < s.vaddr + s.filesz,
      );
      if (!load) throw new ElfFormatError("DT_STRTAB is outside every loadable segment");
      const strtab = readAt(strtabAddr - load.vaddr + load.offset, Math.min(strsz, 1 << 22));
      for (const [tag, val] of entries) {
        if (val >= strtab.length) continue;
        if (tag === DT_NEEDED) needed.push(cstr(strtab, val));
        else if (tag === DT_RPATH) rpath.push(...cstr(strtab, val).split(":"));
        else if (tag === DT_RUNPATH) runpath.push(...cstr(strtab, val).split(":"));
        else if (tag === DT_SONAME) soname = cstr(strtab, val);
      }
    }
  }
  return {
    class: cls,
    littleEndian: le,
    machine,
    ...(interpreter !== undefined ? { interpreter } : {}),
    needed,
    rpath: rpath.filter((p) => p !== ""),
    runpath: runpath.filter((p) => p !== ""),
    ...(soname !== undefined ? { soname } : {}),
  };
}
