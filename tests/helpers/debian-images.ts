/**
 * Images that behave like the official ones people pull, built by the suite from Debian's
 * packages: a base layer made by mmdebstrap (apt, from the host's own mirror) and a small layer
 * of files the tests write (entrypoints, configs), assembled by umoci into an OCI layout. Both
 * are cached under /var/cache/railyard-tests by a hash of what went into them, so only the first
 * run on a machine pays for mmdebstrap (about a minute per base).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTar } from "./tar.js";
import { buildImage, type ImageSpec } from "./registry.js";

export const IMAGE_CACHE = "/var/cache/railyard-tests";

export interface DebianImage {
  /** Debian packages on top of mmdebstrap's minbase. */
  readonly packages: readonly string[];
  /** Files of the second layer: path (relative, no leading "/") -> content and mode. */
  readonly files: Readonly<Record<string, { content: string; mode: number }>>;
  readonly config: NonNullable<ImageSpec["config"]>;
}

const hash = (v: unknown) =>
  createHash("sha256").update(JSON.stringify(v)).digest("hex").slice(0, 16);

/** The first deb mirror the host's apt uses (a deb822 or one-line source), else Debian's. */
function hostMirror(): string {
  for (const f of ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]) {
    if (!existsSync(f)) continue;
    const text = readFileSync(f, "utf8");
    const m =
      /^URIs:\s*(\S+)/m.exec(text) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text);
    if (m?.[1]) return m[1];
  }
  return "http://deb.debian.org/debian";
}

/**
 * An uncompressed rootfs tar of Debian 12 minbase with `packages`, cached by the list. An image's
 * has no docs and an empty /dev; `host: true` makes one like an installed system's, with man
 * pages and /dev's nodes, and dpkg keeping every path a package installs.
 */
export function baseTar(packages: readonly string[], o: { host?: boolean } = {}): string {
  const out = join(
    IMAGE_CACHE,
    `debian12-${o.host ? "host-" : ""}${hash([...packages].sort())}.tar`,
  );
  if (existsSync(out)) return out;
  mkdirSync(IMAGE_CACHE, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  execFileSync(
    "mmdebstrap",
    [
      "--quiet",
      "--variant=minbase",
      "--format=tar",
      `--include=${packages.join(",")}`,
      // An image has an empty /dev (the runtime mounts its own) and no docs.
      ...(o.host
        ? []
        : [
            "--skip=output/dev",
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
          ]),
      "bookworm",
      tmp,
      hostMirror(),
    ],
    { stdio: ["ignore", "ignore", "pipe"], timeout: 900_000 },
  );
  renameSync(tmp, out);
  return out;
}

/**
 * An OCI layout holding `image` under tag "v1": the cached base layer, then the files layer.
 * Returns the layout directory (cached; a changed recipe makes a new one).
 */
export function debianImage(name: string, image: DebianImage): string {
  const layout = join(IMAGE_CACHE, `${name}-${hash(image)}`);
  if (existsSync(join(layout, "index.json"))) return layout;
  const base = baseTar(image.packages);
  const work = `${layout}.work-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const filesTar = join(work, "files.tar");
  const dirs = new Set<string>();
  for (const p of Object.keys(image.files)) {
    const segs = p.split("/");
    for (let i = 1; i < segs.length; i++) dirs.add(`${segs.slice(0, i).join("/")}/`);
  }
  writeFileSync(
    filesTar,
    makeTar([
      ...[...dirs].sort().map((d) => ({ name: d, type: "dir" as const, mode: 0o755 })),
      ...Object.entries(image.files).map(([p, f]) => ({ name: p, body: f.content, mode: f.mode })),
    ]),
  );
  const tmpLayout = join(work, "layout");
  buildImage(
    tmpLayout,
    "v1",
    { layers: [{ tar: base }, { tar: filesTar }], config: image.config },
    work,
  );
  rmSync(layout, { recursive: true, force: true });
  renameSync(tmpLayout, layout);
  rmSync(work, { recursive: true, force: true });
  return layout;
}
