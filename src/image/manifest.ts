/** Image manifests, indexes and configs (OCI and Docker v2): parsing, checks, platform choice. Pure. */
import { normaliseArch } from "../model/parse.js";

export const MEDIA = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  ociLayout: "application/vnd.oci.image.layout.v1+json",
} as const;

/** The Accept header for manifest requests: every manifest and index type railyard reads. */
export const MANIFEST_ACCEPT = [
  MEDIA.ociIndex,
  MEDIA.ociManifest,
  MEDIA.dockerList,
  MEDIA.dockerManifest,
].join(", ");

/** Largest manifest or index accepted (registries cap at 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 << 20;

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: Platform;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly urls?: readonly string[];
}

export interface Manifest {
  readonly kind: "manifest";
  readonly mediaType: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface Index {
  readonly kind: "index";
  readonly mediaType: string;
  readonly manifests: readonly Descriptor[];
}

export interface ImageConfig {
  readonly architecture?: string;
  readonly os?: string;
  readonly variant?: string;
  readonly config?: {
    readonly User?: string;
    readonly Env?: readonly string[];
    readonly Entrypoint?: readonly string[] | null;
    readonly Cmd?: readonly string[] | null;
    readonly WorkingDir?: string;
    readonly StopSignal?: string;
    readonly Labels?: Readonly<Record<string, string>> | null;
    readonly Volumes?: Readonly<Record<string, unknown>> | null;
    readonly ExposedPorts?: Readonly<Record<string, unknown>> | null;
  };
  readonly rootfs: { readonly type: string; readonly diff_ids: readonly string[] };
}

export class ManifestError extends Error {
  override name = "ManifestError";
}

const DIGEST = /^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$/;

function descriptor(v: unknown, where: string): Descriptor {
  const d = v as Partial<Descriptor> | null;
  if (!d || typeof d !== "object") throw new ManifestError(`${where}: not a descriptor`);
  if (typeof d.mediaType !== "string") throw new ManifestError(`${where}: mediaType missing`);
  if (typeof d.digest !== "string" || !DIGEST.test(d.digest))
    throw new ManifestError(`${where}: invalid digest ${JSON.stringify(d.digest)}`);
  if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0)
    throw new ManifestError(`${where}: invalid size ${JSON.stringify(d.size)}`);
  return d as Descriptor;
}

/**
 * Parse a manifest or index. `contentType` is what the registry (or layout) said it is: a body
 * whose own mediaType disagrees with it is refused, and so is a document that is both a manifest
 * and an index (the ambiguity behind CVE-2021-41190).
 */
export function parseManifestDocument(bytes: Buffer, contentType?: string): Manifest | Index {
  if (bytes.length > MAX_MANIFEST_BYTES)
    throw new ManifestError(`manifest of ${bytes.length} bytes exceeds ${MAX_MANIFEST_BYTES}`);
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new ManifestError(`manifest is not JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc))
    throw new ManifestError("manifest is not a JSON object");
  if (doc["schemaVersion"] === 1)
    throw new ManifestError(
      "Docker schema 1 manifests are not supported (deprecated); re-push the image with a current tool",
    );
  if (doc["schemaVersion"] !== 2)
    throw new ManifestError(`unsupported schemaVersion ${JSON.stringify(doc["schemaVersion"])}`);
  const ct = contentType?.split(";")[0]?.trim();
  const declared = typeof doc["mediaType"] === "string" ? doc["mediaType"] : undefined;
  if (
    declared &&
    ct &&
    ct !== "application/json" &&
    ct !== "application/octet-stream" &&
    declared !== ct
  )
    throw new ManifestError(`the body says it is ${declared} but was served as ${ct}`);
  const mediaType = declared ?? ct;
  const hasManifests = "manifests" in doc;
  const hasImageKeys = "layers" in doc || "config" in doc;
  if (hasManifests && hasImageKeys)
    throw new ManifestError("ambiguous document: it has both manifests and layers/config");
  const isIndex =
    mediaType === MEDIA.ociIndex ||
    mediaType === MEDIA.dockerList ||
    (mediaType === undefined && hasManifests);
  const isManifest =
    mediaType === MEDIA.ociManifest ||
    mediaType === MEDIA.dockerManifest ||
    (mediaType === undefined && hasImageKeys);
  if (isIndex) {
    if (!Array.isArray(doc["manifests"])) throw new ManifestError("index has no manifests array");
    return {
      kind: "index",
      mediaType: mediaType ?? MEDIA.ociIndex,
      manifests: (doc["manifests"] as unknown[]).map((m, i) => descriptor(m, `manifests[${i}]`)),
    };
  }
  if (isManifest) {
    if (!Array.isArray(doc["layers"])) throw new ManifestError("manifest has no layers array");
    return {
      kind: "manifest",
      mediaType: mediaType ?? MEDIA.ociManifest,
      config: descriptor(doc["config"], "config"),
      layers: (doc["layers"] as unknown[]).map((l, i) => descriptor(l, `layers[${i}]`)),
      ...(doc["annotations"] ? { annotations: doc["annotations"] as Record<string, string> } : {}),
    };
  }
  throw new ManifestError(`unsupported manifest media type ${JSON.stringify(mediaType)}`);
}

export function parseImageConfig(bytes: Buffer): ImageConfig {
  let c: ImageConfig;
  try {
    c = JSON.parse(bytes.toString("utf8")) as ImageConfig;
  } catch (e) {
    throw new ManifestError(`image config is not JSON: ${(e as Error).message}`);
  }
  if (
    !c ||
    typeof c !== "object" ||
    !c.rootfs ||
    c.rootfs.type !== "layers" ||
    !Array.isArray(c.rootfs.diff_ids)
  )
    throw new ManifestError('image config has no rootfs of type "layers"');
  for (const d of c.rootfs.diff_ids)
    if (typeof d !== "string" || !DIGEST.test(d))
      throw new ManifestError(`image config has an invalid diff_id ${JSON.stringify(d)}`);
  return c;
}

/** containerd's platform normalisation: aarch64 -> arm64 (variant v8 is the default), armhf -> arm/v7. */
export function normalisePlatform(p: Platform): Required<Platform> {
  let architecture = normaliseArch(p.architecture.toLowerCase());
  let variant = (p.variant ?? "").toLowerCase();
  if (p.architecture === "x86-64") architecture = "amd64";
  if (p.architecture === "armhf") [architecture, variant] = ["arm", "v7"];
  if (p.architecture === "armel") [architecture, variant] = ["arm", "v6"];
  if (architecture === "arm64" && (variant === "8" || variant === "v8")) variant = "";
  if (architecture === "arm" && variant === "") variant = "v7";
  if (architecture === "arm" && /^\d$/.test(variant)) variant = `v${variant}`;
  if (architecture === "amd64" && variant === "v1") variant = "";
  return { os: p.os.toLowerCase(), architecture, variant };
}

/** The index entry for this platform, or an error listing what the index offers. */
export function selectPlatform(index: Index, want: Platform): Descriptor {
  const w = normalisePlatform(want);
  const match = index.manifests.find((m) => {
    if (!m.platform) return false;
    const p = normalisePlatform(m.platform);
    return (
      p.os === w.os &&
      p.architecture === w.architecture &&
      (w.variant === "" || p.variant === w.variant || p.variant === "")
    );
  });
  if (match) return match;
  const offered = index.manifests
    .map((m) =>
      m.platform
        ? [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join("/")
        : "(no platform)",
    )
    .join(", ");
  throw new ManifestError(
    `no image for ${[w.os, w.architecture, w.variant].filter(Boolean).join("/")} in the index; it offers: ${offered || "nothing"}`,
  );
}

/** ChainID per the image spec: chain(L0) = diff(L0); chain(L0..Ln) = sha256(chain(n-1) + " " + diff(n)). */
export function chainIds(diffIds: readonly string[], sha256: (s: string) => string): string[] {
  const out: string[] = [];
  for (const d of diffIds)
    out.push(out.length === 0 ? d : `sha256:${sha256(`${out[out.length - 1]} ${d}`)}`);
  return out;
}
