import { posix } from "node:path";
import type { FsView } from "./fs.js";

/** One installed package from /var/lib/dpkg/status. */
export interface DpkgPackage {
  readonly name: string;
  readonly arch: string;
  readonly multiArch: string;
  /** Depends + Pre-Depends: each group is a list of alternatives (names, arch qualifiers dropped). */
  readonly depends: readonly (readonly string[])[];
  readonly provides: readonly string[];
  /** The source package it was built from (its own name when dpkg records none). */
  readonly source: string;
  /** `Essential: yes`: every package may use it without depending on it (Debian Policy 3.8). */
  readonly essential?: true;
}

/** Parse dpkg's status file, keeping only packages whose state is "installed". Pure. */
export function parseDpkgStatus(text: string): DpkgPackage[] {
  const out: DpkgPackage[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = "";
    for (const line of stanza.split("\n")) {
      if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last) ?? ""} ${line.trim()}`);
      else {
        const i = line.indexOf(":");
        if (i > 0) fields.set((last = line.slice(0, i)), line.slice(i + 1).trim());
      }
    }
    const name = fields.get("Package");
    if (!name || !/\binstalled$/.test(fields.get("Status") ?? "")) continue;
    const rel = (v: string | undefined) =>
      (v ?? "")
        .split(",")
        .map((g) =>
          g
            .split("|")
            .map((a) => a.trim().split(/[\s(]/)[0]?.split(":")[0] ?? "")
            .filter(Boolean),
        )
        .filter((g) => g.length > 0);
    out.push({
      name,
      arch: fields.get("Architecture") ?? "all",
      multiArch: fields.get("Multi-Arch") ?? "no",
      depends: [...rel(fields.get("Pre-Depends")), ...rel(fields.get("Depends"))],
      provides: rel(fields.get("Provides")).flat(),
      source: (fields.get("Source") ?? name).split(" ")[0] as string,
      ...(fields.get("Essential") === "yes" ? { essential: true as const } : {}),
    });
  }
  return out;
}

/** OCI architecture names -> dpkg's. */
export const dpkgArch = (oci: string): string => ({ "386": "i386", arm: "armhf" })[oci] ?? oci;

/** Paths that package closures leave out: documentation is never needed to run a program. */
export const EXCLUDED_PREFIXES = [
  "/usr/share/doc/",
  "/usr/share/man/",
  "/usr/share/info/",
  "/usr/share/lintian/",
];

/** Read access to the dpkg database of a root, with the usr-merge aliases of that root applied. */
export class DpkgDb {
  private readonly byName = new Map<string, DpkgPackage[]>();
  private readonly providers = new Map<string, DpkgPackage[]>();
  /** Path -> its package, or its packages when several list it (directories). */
  private owners: Map<string, DpkgPackage | DpkgPackage[]> | undefined;
  private readonly aliases: [string, string][] = [];

  constructor(
    private readonly fs: FsView,
    private readonly nativeArch: string,
    private readonly dir = "/var/lib/dpkg",
  ) {
    for (const p of parseDpkgStatus(fs.readText(`${dir}/status`) ?? "")) {
      this.byName.set(p.name, [...(this.byName.get(p.name) ?? []), p]);
      for (const v of p.provides) this.providers.set(v, [...(this.providers.get(v) ?? []), p]);
    }
    // On merged-/usr systems /bin, /lib, ... are symlinks into /usr; dpkg records either spelling.
    for (const top of ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
      const st = fs.lstat(top);
      if (st?.kind === "symlink")
        this.aliases.push([`${top}/`, `${posix.resolve("/", fs.readlink(top))}/`]);
    }
  }

  get size(): number {
    return this.byName.size;
  }

  /** One spelling for paths that name the same file through the usr-merge links. */
  canonical(p: string): string {
    for (const [from, to] of this.aliases) if (p.startsWith(from)) return to + p.slice(from.length);
    return p;
  }

  private listFile(p: DpkgPackage): string {
    const qualified = `${this.dir}/info/${p.name}:${p.arch}.list`;
    return this.fs.lstat(qualified) ? qualified : `${this.dir}/info/${p.name}.list`;
  }

  /** The paths a package installed, as dpkg recorded them. */
  files(p: DpkgPackage): string[] {
    return (this.fs.readText(this.listFile(p)) ?? "").split("\n").filter((l) => l.startsWith("/"));
  }

  /** The package that owns a path, if any. Builds the index on first use. */
  owner(path: string): DpkgPackage | undefined {
    return this.ownersOf(path).at(-1);
  }

  /** Every package that lists a path (a directory is often listed by many). */
  ownersOf(path: string): readonly DpkgPackage[] {
    // Read on every command that loads a config with host programs: ~120k paths, so one
    // entry per path (an array only where several packages list it) and no copies.
    if (!this.owners) {
      const owners = new Map<string, DpkgPackage | DpkgPackage[]>();
      for (const pkgs of this.byName.values())
        for (const p of pkgs)
          for (const line of (this.fs.readText(this.listFile(p)) ?? "").split("\n")) {
            if (line.charCodeAt(0) !== 47 /* "/" */) continue;
            const c = line.charCodeAt(1) === 117 /* "u" */ ? line : this.canonical(line);
            const had = owners.get(c);
            if (had === undefined) owners.set(c, p);
            else if (Array.isArray(had)) had.push(p);
            else owners.set(c, [had, p]);
          }
      this.owners = owners;
    }
    const found = this.owners.get(this.canonical(path));
    return found === undefined ? [] : Array.isArray(found) ? found : [found];
  }

  /** The installed Essential packages: a package's scripts and programs may use them undeclared. */
  essential(): DpkgPackage[] {
    return [...this.byName.values()].flat().filter((p) => p.essential);
  }

  /** Installed packages built from a source package. */
  fromSource(source: string): DpkgPackage[] {
    return [...this.byName.values()].flat().filter((p) => p.source === source);
  }

  /** The installed packages a package depends on directly (the first installed alternative). */
  dependencies(p: DpkgPackage): DpkgPackage[] {
    return p.depends.flatMap((group) => {
      const dep = group.map((n) => this.pick(n)).find((x) => x !== undefined);
      return dep ? [dep] : [];
    });
  }

  private pick(name: string): DpkgPackage | undefined {
    const fits = (p: DpkgPackage) => p.arch === this.nativeArch || p.arch === "all";
    const direct = this.byName.get(name) ?? [];
    return direct.find(fits) ?? direct[0] ?? (this.providers.get(name) ?? []).find(fits);
  }

  /**
   * Debian splits interpreters into a small `X-minimal` / `X-base` package (what owns the binary)
   * and the full `X` (the standard library: python3.11, perl). The full one is what a program
   * run in a container expects, so it joins the roots when it is installed.
   */
  private companion(p: DpkgPackage): DpkgPackage | undefined {
    const m = /^(.+)-(minimal|base)$/.exec(p.name);
    return m?.[1] ? this.pick(m[1]) : undefined;
  }

  /** The packages `roots` need to run: their Depends and Pre-Depends, followed to the end. */
  closure(roots: readonly DpkgPackage[]): DpkgPackage[] {
    const seen = new Map<string, DpkgPackage>();
    const queue = [...roots, ...roots.map((r) => this.companion(r)).filter((c) => c !== undefined)];
    while (queue.length > 0) {
      const p = queue.shift() as DpkgPackage;
      const key = `${p.name}:${p.arch}`;
      if (seen.has(key)) continue;
      seen.set(key, p);
      for (const group of p.depends) {
        const dep = group.map((n) => this.pick(n)).find((x) => x !== undefined);
        if (dep) queue.push(dep);
      }
    }
    return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}
