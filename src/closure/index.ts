import { posix } from "node:path";
import { ClosureError } from "../errors.js";
import { DpkgDb, EXCLUDED_PREFIXES } from "./dpkg.js";
import { ElfFormatError, isElf, parseElf, type ElfInfo } from "./elf.js";
import type { FsView, Stat } from "./fs.js";
import { parseLdCache, type LdCacheEntry } from "./ldcache.js";

/** What the rootfs holds at one path. Files carry the host path they are linked from. */
export type PlanEntry =
  | { readonly kind: "dir"; readonly mode: number }
  | { readonly kind: "symlink"; readonly target: string }
  | { readonly kind: "file"; readonly source: string; readonly mode: number; readonly stat: Stat };

export interface ClosureOptions {
  readonly fs: FsView;
  /** "elf": the program, its loader and libraries. "packages": the Debian packages that own them, with their Depends. */
  readonly mode: "elf" | "packages";
  /** Extra host paths; directories are taken whole. */
  readonly include?: readonly string[];
  /** PATH used to find a program given by bare name, and `#!/usr/bin/env NAME` interpreters. */
  readonly searchPath?: string;
  /** dpkg architecture name, for packages mode. */
  readonly arch?: string;
}

export interface Closure {
  /** Absolute rootfs path -> what to put there. */
  readonly entries: ReadonlyMap<string, PlanEntry>;
  /** args[0], resolved to an absolute path. */
  readonly program: string;
  /** Packages taken, in packages mode. */
  readonly packages: readonly string[];
}

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Debian's multiarch triplets, for glibc's default library directories. */
const TRIPLETS: Record<number, string> = {
  62: "x86_64-linux-gnu",
  183: "aarch64-linux-gnu",
  3: "i386-linux-gnu",
  40: "arm-linux-gnueabihf",
};
const PLATFORMS: Record<number, string> = { 62: "x86_64", 183: "aarch64", 3: "i686", 40: "v7l" };
const MAX_LINKS = 40;

/** An ELF object as ld.so holds it: where it was opened, what it is, and who loaded it. */
interface LoadedObject {
  readonly real: string;
  readonly opened: string;
  readonly info: ElfInfo;
  readonly loader: LoadedObject | undefined;
}

/**
 * Everything a host program needs to run in an otherwise empty root: itself, its `#!` interpreter,
 * its ELF loader and DT_NEEDED libraries (searched as ld.so searches), or in packages mode all
 * files of the Debian packages that own those and their Depends. Pure over the FsView.
 */
export function computeClosure(program: string, o: ClosureOptions): Closure {
  return new ClosureBuilder(o).build(program);
}

class ClosureBuilder {
  private readonly entries = new Map<string, PlanEntry>();
  private readonly fs: FsView;
  private ldCache: LdCacheEntry[] | undefined;
  private readonly elfDone = new Set<string>();
  private readonly elfInfo = new Map<string, ElfInfo>();
  private readonly searchPath: string[];
  private dynamic = false;

  constructor(private readonly o: ClosureOptions) {
    this.fs = o.fs;
    this.searchPath = (o.searchPath ?? DEFAULT_PATH).split(":").filter((d) => d.startsWith("/"));
  }

  build(arg0: string): Closure {
    const program = this.findProgram(arg0);
    this.addProgram(program, [arg0]);
    if (this.dynamic && this.fs.lstat("/etc/ld.so.cache")) this.walk("/etc/ld.so.cache", true);
    let packages: string[] = [];
    if (this.o.mode === "packages") packages = this.addPackages();
    for (const inc of this.o.include ?? []) {
      const real = this.walk(inc, true);
      if (real === undefined)
        throw new ClosureError(`include: ${inc} does not exist on this host`, inc);
      const st = this.fs.lstat(real);
      if (st?.kind === "dir") this.addTree(real);
      // An included program brings what it needs to run, as args[0] does.
      else if (st?.kind === "file" && (st.mode & 0o111) !== 0) this.addProgram(inc, [inc]);
    }
    return { entries: this.entries, program, packages };
  }

  private findProgram(arg0: string): string {
    if (arg0.includes("/")) {
      if (!arg0.startsWith("/"))
        throw new ClosureError(
          `${JSON.stringify(arg0)}: a host program must be an absolute path or a bare name found on PATH`,
          arg0,
        );
      return arg0;
    }
    for (const dir of this.searchPath) {
      const p = `${dir}/${arg0}`;
      const real = this.walk(p, false);
      if (real && this.fs.lstat(real)?.kind === "file") return p;
    }
    throw new ClosureError(
      `${JSON.stringify(arg0)} was not found on PATH (${this.searchPath.join(":")})`,
      arg0,
    );
  }

  /** A program and what it needs: the file, its `#!` interpreter chain, or its ELF closure. */
  private addProgram(path: string, chain: string[]): void {
    if (chain.length > 8)
      throw new ClosureError(`interpreter chain too deep: ${chain.join(" -> ")}`, path);
    const real = this.walk(path, true);
    const st = real === undefined ? undefined : this.fs.lstat(real);
    if (real === undefined || st === undefined)
      throw new ClosureError(
        `${path} does not exist on this host${chain.length > 1 ? ` (needed by ${chain.at(-2)})` : ""}`,
        path,
      );
    if (st.kind !== "file") throw new ClosureError(`${path} is not a regular file`, path);
    if ((st.mode & 0o111) === 0)
      throw new ClosureError(`${path} is not executable (mode ${st.mode.toString(8)})`, path);
    const head = this.fs.read(real, 0, 256);
    if (head[0] === 0x23 && head[1] === 0x21) return this.addScript(path, head, chain);
    if (isElf(head)) return this.addElf(real, path);
  }

  private addScript(path: string, head: Buffer, chain: string[]): void {
    const line = head
      .toString("utf8", 2, head.indexOf(10) === -1 ? head.length : head.indexOf(10))
      .trim();
    const [interp = "", ...rest] = line.split(/\s+/);
    if (!interp.startsWith("/"))
      throw new ClosureError(`${path}: "#!${line}" does not name an absolute interpreter`, path);
    this.addProgram(interp, [...chain, interp]);
    if (posix.basename(interp) === "env") {
      // `#!/usr/bin/env [-S] [VAR=x] prog`: the real interpreter is found on PATH at run time.
      const prog = rest.find((w) => !w.startsWith("-") && !w.includes("="));
      if (prog) this.addProgram(this.findProgram(prog), [...chain, prog]);
    }
  }

  /** Parse (once) the ELF at a real path. Malformed: an error, or undefined when probing candidates. */
  private parse(real: string): ElfInfo;
  private parse(real: string, strict: false): ElfInfo | undefined;
  private parse(real: string, strict = true): ElfInfo | undefined {
    const cached = this.elfInfo.get(real);
    if (cached) return cached;
    try {
      const info = parseElf((off, len) => this.fs.read(real, off, len));
      this.elfInfo.set(real, info);
      return info;
    } catch (e) {
      if (!(e instanceof ElfFormatError)) throw e;
      if (strict) throw new ClosureError(`${real}: malformed ELF: ${e.message}`, real);
      return undefined;
    }
  }

  /** Breadth-first over DT_NEEDED, as ld.so loads them. */
  private addElf(real: string, opened: string): void {
    const exe: LoadedObject = { real, opened, info: this.parse(real), loader: undefined };
    const bySoname = new Map<string, string>();
    const queue: LoadedObject[] = [exe];
    if (exe.info.interpreter) {
      this.dynamic = true;
      const interpReal = this.walk(exe.info.interpreter, true);
      if (!interpReal)
        throw new ClosureError(
          `${opened}: its loader ${exe.info.interpreter} does not exist`,
          opened,
        );
      bySoname.set(posix.basename(exe.info.interpreter), interpReal);
    }
    while (queue.length > 0) {
      const obj = queue.shift() as LoadedObject;
      if (this.elfDone.has(obj.real)) continue;
      this.elfDone.add(obj.real);
      for (const name of obj.info.needed) {
        if (bySoname.has(name)) continue;
        const found = this.findLibrary(name, obj, exe);
        if (!found)
          throw new ClosureError(
            `${obj.opened} needs ${name}, which ld.so would not find (RPATH, RUNPATH, /etc/ld.so.cache, default directories)`,
            obj.opened,
          );
        const libReal = this.walk(found, true) as string;
        bySoname.set(name, libReal);
        const info = this.parse(libReal);
        if (info.soname) bySoname.set(info.soname, libReal);
        queue.push({ real: libReal, opened: found, info, loader: obj });
      }
    }
  }

  private expand(dir: string, origin: string, machine: number): string {
    return dir
      .replace(/\$(ORIGIN|\{ORIGIN\})/g, origin)
      .replace(/\$(LIB|\{LIB\})/g, `lib/${TRIPLETS[machine] ?? ""}`)
      .replace(/\$(PLATFORM|\{PLATFORM\})/g, PLATFORMS[machine] ?? "");
  }

  private findLibrary(name: string, obj: LoadedObject, exe: LoadedObject): string | undefined {
    const fits = (p: string) => {
      const real = this.walk(p, false);
      if (!real || this.fs.lstat(real)?.kind !== "file") return false;
      const info = this.parse(real, false);
      return (
        info !== undefined && info.class === obj.info.class && info.machine === obj.info.machine
      );
    };
    // $ORIGIN: the executable's real directory (/proc/self/exe), a library's as opened.
    const expand = (dir: string, o: LoadedObject) =>
      this.expand(dir, posix.dirname(o === exe ? o.real : o.opened), o.info.machine);
    if (name.includes("/")) {
      const p = expand(name, obj);
      return fits(p) ? p : undefined;
    }
    const dirs: string[] = [];
    if (obj.info.runpath.length === 0) {
      // DT_RPATH of the object, then of each object that loaded it, up to the executable.
      for (let l: LoadedObject | undefined = obj; l; l = l.loader)
        if (l.info.runpath.length === 0)
          dirs.push(...l.info.rpath.map((d) => expand(d, l as LoadedObject)));
    }
    dirs.push(...obj.info.runpath.map((d) => expand(d, obj)));
    for (const d of dirs) if (fits(`${d}/${name}`)) return posix.normalize(`${d}/${name}`);
    this.ldCache ??= parseLdCache(
      this.fs.lstat("/etc/ld.so.cache")
        ? this.fs.read("/etc/ld.so.cache", 0, 64 << 20)
        : Buffer.alloc(0),
    );
    for (const e of this.ldCache)
      if (e.name === name && e.hwcap === 0n && fits(e.path)) return e.path;
    const triplet = TRIPLETS[obj.info.machine];
    const defaults = [
      ...(triplet ? [`/lib/${triplet}`, `/usr/lib/${triplet}`] : []),
      ...(obj.info.class === 64 ? ["/lib64", "/usr/lib64"] : []),
      "/lib",
      "/usr/lib",
    ];
    for (const d of defaults) if (fits(`${d}/${name}`)) return `${d}/${name}`;
    return undefined;
  }

  private addPackages(): string[] {
    const db = new DpkgDb(this.fs, this.o.arch ?? "amd64");
    if (db.size === 0)
      throw new ClosureError(
        'closure: "packages" needs a dpkg database (/var/lib/dpkg/status); this host has none. use closure: "elf" and include',
        "/var/lib/dpkg/status",
      );
    const roots = new Map<string, ReturnType<DpkgDb["owner"]> & object>();
    for (const [path, e] of this.entries) {
      if (e.kind === "dir") continue;
      const owner = db.owner(path);
      if (owner) roots.set(`${owner.name}:${owner.arch}`, owner);
    }
    // Debian's packages never declare the Essential ones (a shell, perl-base, coreutils), yet
    // their programs run them: lighttpd's config runs perl scripts through /bin/sh.
    const pkgs = db.closure([...roots.values(), ...db.essential()]);
    for (const p of pkgs)
      for (const f of db.files(p)) {
        if (f === "/." || EXCLUDED_PREFIXES.some((x) => f.startsWith(x))) continue;
        this.walk(f, true);
      }
    return pkgs.map((p) => p.name);
  }

  private addTree(dir: string): void {
    for (const name of this.fs.readdir(dir).sort()) {
      const p = `${dir === "/" ? "" : dir}/${name}`;
      const st = this.fs.lstat(p);
      if (!st) continue;
      this.record(p, st);
      if (st.kind === "dir") this.addTree(p);
      else if (st.kind === "symlink") this.walk(p, true);
    }
  }

  private record(p: string, st: Stat): void {
    if (this.entries.has(p)) return;
    // Directories are railyard's own (only files are linked): they hold nothing but the closure, so
    // every user may traverse them, whatever the host's mode (a program under a 0700 home still runs).
    if (st.kind === "dir") this.entries.set(p, { kind: "dir", mode: (st.mode | 0o555) & ~0o7000 });
    else if (st.kind === "symlink")
      this.entries.set(p, { kind: "symlink", target: this.fs.readlink(p) });
    else if (st.kind === "file")
      this.entries.set(p, { kind: "file", source: this.fs.hostPath(p), mode: st.mode, stat: st });
    // Devices, FIFOs and sockets are never copied from the host.
  }

  /**
   * Resolve `p` one component at a time, as the kernel would, returning the real path (or undefined
   * if some component is missing). With `record`, every directory, symlink and the final file met on
   * the way become rootfs entries, so that the same path resolves the same way inside the container.
   */
  private walk(p: string, record: boolean, depth = 0): string | undefined {
    if (depth > MAX_LINKS) throw new ClosureError(`${p}: too many levels of symbolic links`, p);
    const segs = posix.normalize(p).split("/").filter(Boolean);
    let cur = "";
    for (let i = 0; i < segs.length; i++) {
      const next = `${cur}/${segs[i]}`;
      const known = this.entries.get(next);
      const st = known?.kind === "dir" ? undefined : this.fs.lstat(next);
      if (known?.kind !== "dir" && !st) return undefined;
      if (st?.kind === "symlink") {
        if (record) this.record(next, st);
        const target = posix.resolve(cur || "/", this.fs.readlink(next));
        const rest = segs.slice(i + 1).join("/");
        return this.walk(rest ? `${target}/${rest}` : target, record, depth + 1);
      }
      const isDir = known?.kind === "dir" || st?.kind === "dir";
      if (!isDir && i < segs.length - 1) return undefined;
      if (record && st) this.record(next, st);
      cur = next;
    }
    return cur || "/";
  }
}
