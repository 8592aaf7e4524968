import { createHash } from "node:crypto";
import {
  closeSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { join, posix } from "node:path";
import { pipeline } from "node:stream/promises";
import { RailyardError } from "../errors.js";
import { writeAll } from "../util/atomic.js";
import { decompressor, sniffFile } from "./decompress.js";
import {
  MEDIA,
  parseManifestDocument,
  selectPlatform,
  type Descriptor,
  type Platform,
} from "./manifest.js";
import { REF_ANNOTATION, type Store } from "./store.js";
import { TarFormatError, TarReader, tarSink } from "./tar.js";

/** An image file to import: a docker-archive or oci-archive tar, or an OCI layout directory. */
export interface ImportResult {
  /** The top-level digest (index or manifest) now tagged in the store. */
  readonly digest: string;
  /** The name it was tagged under. */
  readonly name: string;
}

export class ArchiveError extends RailyardError {}

/**
 * Read every regular file of a tar into numbered temp files, never by the archive's own names
 * (so a hostile archive cannot write anywhere). Symlinks between members are resolved.
 */
async function unpackMembers(archive: string, tmp: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const links = new Map<string, string>();
  let fd: number | undefined;
  let n = 0;
  let current = "";
  const clean = (p: string) => posix.normalize(`/${p}`).slice(1);
  const reader = new TarReader({
    entry(h) {
      current = clean(h.path);
      if (h.type === "file") {
        const f = join(tmp, String(n++));
        fd = openSync(f, "wx", 0o600);
        files.set(current, f);
      } else if (h.type === "symlink")
        links.set(current, clean(posix.join(posix.dirname(current), h.linkname)));
      else if (h.type === "hardlink") links.set(current, clean(h.linkname));
    },
    data(chunk) {
      if (fd === undefined) return;
      writeAll(fd, chunk);
    },
    end() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  });
  try {
    await pipeline(createReadStream(archive), decompressor(sniffFile(archive)), tarSink(reader));
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    if (e instanceof TarFormatError)
      throw new ArchiveError(`${archive}: not a valid tar archive: ${e.message}`);
    throw e;
  }
  for (const [from, to] of links) {
    let target = to;
    for (let i = 0; i < 10 && !files.has(target) && links.has(target); i++)
      target = links.get(target) as string;
    const f = files.get(target);
    if (f) files.set(from, f);
  }
  return files;
}

const sha256File = async (f: string): Promise<string> => {
  const h = createHash("sha256");
  for await (const c of createReadStream(f) as AsyncIterable<Buffer>) h.update(c);
  return `sha256:${h.digest("hex")}`;
};

/** Copy a file into the store under the digest it must have. */
async function putFile(store: Store, f: string, expected?: Descriptor): Promise<Descriptor> {
  const size = statSync(f).size;
  const digest = expected?.digest ?? (await sha256File(f));
  if (expected && expected.size !== size)
    throw new ArchiveError(
      `blob ${expected.digest}: the archive holds ${size} bytes, the manifest says ${expected.size}`,
    );
  if (!store.has({ digest, size }))
    await store.putStream(createReadStream(f), { digest, size }, false);
  return { mediaType: expected?.mediaType ?? "", digest, size };
}

/** Import an OCI layout (from a directory or an unpacked oci-archive): blobs verified, one manifest chosen. */
async function importLayout(
  store: Store,
  blobFile: (digest: string) => string | undefined,
  indexText: string | undefined,
  tag: string | undefined,
  platform: Platform,
  where: string,
): Promise<{ desc: Descriptor; tag: string | undefined }> {
  if (indexText === undefined)
    throw new ArchiveError(`${where}: no index.json: not an OCI image layout`);
  const index = parseManifestDocument(Buffer.from(indexText), MEDIA.ociIndex);
  if (index.kind !== "index") throw new ArchiveError(`${where}: index.json is not an image index`);
  const candidates = tag
    ? index.manifests.filter((m) => m.annotations?.[REF_ANNOTATION] === tag)
    : index.manifests;
  if (candidates.length === 0)
    throw new ArchiveError(
      `${where}: no image tagged ${JSON.stringify(tag)}. it has: ${index.manifests.map((m) => m.annotations?.[REF_ANNOTATION] ?? m.digest).join(", ")}`,
    );
  if (candidates.length > 1 && !tag)
    throw new ArchiveError(`${where}: holds ${candidates.length} images; name one as oci:DIR:TAG`);
  const top = candidates[0] as Descriptor;
  const need = (d: Descriptor): string => {
    const f = blobFile(d.digest);
    if (!f) throw new ArchiveError(`${where}: blob ${d.digest} is missing`);
    return f;
  };
  const doc = parseManifestDocument(readFileSync(need(top)), top.mediaType);
  await putFile(store, need(top), top);
  let manifestDesc: Descriptor = top;
  if (doc.kind === "index") {
    manifestDesc = selectPlatform(doc, platform);
    await putFile(store, need(manifestDesc), manifestDesc);
  }
  const m = parseManifestDocument(store.readBlob(manifestDesc.digest), manifestDesc.mediaType);
  if (m.kind !== "manifest") throw new ArchiveError(`${where}: nested indexes are not supported`);
  for (const d of [m.config, ...m.layers]) await putFile(store, need(d), d);
  return {
    desc: { mediaType: top.mediaType, digest: top.digest, size: top.size },
    tag: top.annotations?.[REF_ANNOTATION],
  };
}

const LAYER_TYPES = {
  none: "application/vnd.docker.image.rootfs.diff.tar",
  gzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  zstd: "application/vnd.oci.image.layer.v1.tar+zstd",
} as const;

interface DockerSaveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** A `docker save` / `podman save` archive: manifest.json, a config, layer tars. Converted to an OCI manifest. */
async function importDockerArchive(
  store: Store,
  files: Map<string, string>,
  where: string,
): Promise<{ desc: Descriptor; tag: string | undefined }> {
  const mf = files.get("manifest.json");
  if (!mf)
    throw new ArchiveError(
      `${where}: neither manifest.json (docker-archive) nor index.json (oci-archive)`,
    );
  let entries: DockerSaveEntry[];
  try {
    entries = JSON.parse(readFileSync(mf, "utf8")) as DockerSaveEntry[];
  } catch (e) {
    throw new ArchiveError(`${where}: manifest.json is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(entries) || entries.length !== 1)
    throw new ArchiveError(
      `${where}: holds ${Array.isArray(entries) ? entries.length : 0} images; railyard imports archives of exactly one`,
    );
  const e = entries[0] as DockerSaveEntry;
  const configFile = files.get(posix.normalize(e.Config));
  if (!configFile) throw new ArchiveError(`${where}: the config ${e.Config} is missing`);
  const config = await putFile(store, configFile);
  const diffIds =
    (JSON.parse(readFileSync(configFile, "utf8")) as { rootfs?: { diff_ids?: string[] } }).rootfs
      ?.diff_ids ?? [];
  if (diffIds.length !== e.Layers.length)
    throw new ArchiveError(`${where}: ${e.Layers.length} layers but ${diffIds.length} diff_ids`);
  const layers: Descriptor[] = [];
  for (const l of e.Layers) {
    const f = files.get(posix.normalize(l));
    if (!f) throw new ArchiveError(`${where}: the layer ${l} is missing`);
    const d = await putFile(store, f);
    layers.push({ ...d, mediaType: LAYER_TYPES[sniffFile(f)] });
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.dockerManifest,
    config: { mediaType: MEDIA.dockerConfig, digest: config.digest, size: config.size },
    layers,
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = store.putBytes(bytes);
  return {
    desc: { mediaType: MEDIA.dockerManifest, digest, size: bytes.length },
    tag: e.RepoTags?.[0] ?? undefined,
  };
}

/**
 * Import an image file into the store, with no network: "oci:DIR[:TAG]", an oci-archive tar or a
 * docker-archive tar (plain or compressed). Every blob is verified against its digest. The image is
 * tagged under `name` (else the archive's own tag). Returns the digest and name.
 */
export async function importImageFile(
  store: Store,
  spec: string,
  o: { name?: string; platform: Platform; tmpDir: string; normalise: (tag: string) => string },
): Promise<ImportResult> {
  let result: { desc: Descriptor; tag: string | undefined };
  if (spec.startsWith("oci:")) {
    const [dir = "", tag] = spec.slice(4).split(":");
    if (!existsSync(join(dir, "index.json")))
      throw new ArchiveError(`${spec}: ${dir} is not an OCI image layout (no index.json)`);
    result = await importLayout(
      store,
      (d) => {
        const f = join(dir, "blobs", ...d.split(":"));
        return existsSync(f) ? f : undefined;
      },
      readFileSync(join(dir, "index.json"), "utf8"),
      tag,
      o.platform,
      spec,
    );
  } else {
    if (!existsSync(spec)) throw new ArchiveError(`${spec}: no such image file`);
    mkdirSync(o.tmpDir, { recursive: true, mode: 0o700 });
    const tmp = mkdtempSync(join(o.tmpDir, "import-"));
    try {
      const files = await unpackMembers(spec, tmp);
      result = files.has("index.json")
        ? await importLayout(
            store,
            (d) => files.get(`blobs/${d.replace(":", "/")}`),
            readFileSync(files.get("index.json") as string, "utf8"),
            undefined,
            o.platform,
            spec,
          )
        : await importDockerArchive(store, files, spec);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const name = o.name ?? (result.tag ? o.normalise(result.tag) : undefined);
  if (!name) throw new ArchiveError(`${spec}: the archive names no image; set image to name it`);
  await store.tag(name, result.desc);
  return { digest: result.desc.digest, name };
}
