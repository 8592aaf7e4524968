/**
 * A real registry for tests: Debian's docker-registry on 127.0.0.1 with a fresh storage
 * directory, optionally behind htpasswd Basic auth. Images are built with umoci and pushed with
 * skopeo, the tools the project compares itself against.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export interface TestRegistry {
  /** host:port */
  readonly host: string;
  readonly dir: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(url: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${log()}`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`docker-registry did not start: ${log()}`);
}

export async function startRegistry(
  dir: string,
  auth?: { user: string; password: string },
): Promise<TestRegistry> {
  mkdirSync(join(dir, "storage"), { recursive: true });
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let authConf = "";
  if (auth) {
    const line = execFileSync("htpasswd", ["-Bbn", auth.user, auth.password], { encoding: "utf8" });
    writeFileSync(join(dir, "htpasswd"), line);
    authConf = `auth:\n  htpasswd:\n    realm: railyard-test\n    path: ${join(dir, "htpasswd")}\n`;
  }
  const config = join(dir, "config.yml");
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "storage")}\n  delete:\n    enabled: true\nhttp:\n  addr: ${host}\n${authConf}`,
  );
  const child = spawn("docker-registry", ["serve", config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
  await waitFor(`http://${host}/v2/`, child, () => stderr);
  return {
    host,
    dir,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.on("close", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}

/** One umoci layer: a function that changes the unpacked rootfs, or a tar archive added verbatim. */
export type LayerStep = ((rootfs: string) => void) | { tar: string };

export interface ImageSpec {
  readonly layers: readonly LayerStep[];
  readonly config?: {
    entrypoint?: string[];
    cmd?: string[];
    user?: string;
    env?: string[];
    workdir?: string;
    volumes?: string[];
    labels?: Record<string, string>;
    stopSignal?: string;
    architecture?: string;
  };
}

/** Build an image with umoci into an OCI layout directory `layout` under tag `tag`. */
export function buildImage(layout: string, tag: string, spec: ImageSpec, work: string): void {
  const run = (args: string[]) =>
    execFileSync("umoci", args, { stdio: ["ignore", "ignore", "pipe"] });
  try {
    execFileSync("test", ["-e", join(layout, "index.json")]);
  } catch {
    run(["init", "--layout", layout]);
  }
  const image = `${layout}:${tag}`;
  run(["new", "--image", image]);
  const bundle = join(work, `bundle-${tag}`);
  for (const step of spec.layers) {
    if (typeof step === "function") {
      execFileSync("rm", ["-rf", bundle]);
      run(["unpack", "--image", image, bundle]);
      step(join(bundle, "rootfs"));
      run(["repack", "--image", image, bundle]);
    } else run(["raw", "add-layer", "--image", image, step.tar]);
  }
  execFileSync("rm", ["-rf", bundle]);
  const c = spec.config ?? {};
  const args = ["config", "--image", image];
  for (const e of c.entrypoint ?? []) args.push("--config.entrypoint", e);
  for (const e of c.cmd ?? []) args.push("--config.cmd", e);
  if (c.user) args.push("--config.user", c.user);
  for (const e of c.env ?? []) args.push("--config.env", e);
  if (c.workdir) args.push("--config.workingdir", c.workdir);
  for (const v of c.volumes ?? []) args.push("--config.volume", v);
  for (const [k, v] of Object.entries(c.labels ?? {})) args.push("--config.label", `${k}=${v}`);
  if (c.stopSignal) args.push("--config.stopsignal", c.stopSignal);
  if (c.architecture) args.push("--architecture", c.architecture);
  if (args.length > 3) run(args);
}

/** Recompress every layer of `layout:tag` with zstd into `dest` (an OCI layout), with skopeo. */
export function toZstd(layout: string, tag: string, dest: string): void {
  execFileSync(
    "skopeo",
    [
      "copy",
      "-q",
      "--dest-compress",
      "--dest-compress-format",
      "zstd",
      `oci:${layout}:${tag}`,
      `oci:${dest}:${tag}`,
    ],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
}

/** Push `layout:tag` to the registry with skopeo. */
export function push(
  layout: string,
  tag: string,
  dest: string,
  o: { creds?: string; all?: boolean } = {},
): void {
  const args = ["copy", "-q", "--dest-tls-verify=false"];
  if (o.creds) args.push("--dest-creds", o.creds);
  if (o.all) args.push("--all");
  args.push(`oci:${layout}:${tag}`, `docker://${dest}`);
  execFileSync("skopeo", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * Add a multi-platform index to an OCI layout, naming images already in it by tag. The index
 * document is written by hand (umoci makes no indexes); skopeo pushes it with --all.
 */
export function addIndex(
  layout: string,
  tag: string,
  entries: { tag: string; os: string; architecture: string; variant?: string }[],
): void {
  const indexPath = join(layout, "index.json");
  const top = JSON.parse(readFileSync(indexPath, "utf8")) as {
    manifests: {
      digest: string;
      size: number;
      mediaType: string;
      annotations?: Record<string, string>;
    }[];
  };
  const manifests = entries.map((e) => {
    const m = top.manifests.find(
      (x) => x.annotations?.["org.opencontainers.image.ref.name"] === e.tag,
    );
    if (!m) throw new Error(`no tag ${e.tag} in ${layout}`);
    return {
      mediaType: m.mediaType,
      digest: m.digest,
      size: m.size,
      platform: {
        os: e.os,
        architecture: e.architecture,
        ...(e.variant ? { variant: e.variant } : {}),
      },
    };
  });
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests,
    }),
  );
  const hex = createHash("sha256").update(bytes).digest("hex");
  writeFileSync(join(layout, "blobs/sha256", hex), bytes);
  top.manifests.push({
    mediaType: "application/vnd.oci.image.index.v1+json",
    digest: `sha256:${hex}`,
    size: bytes.length,
    annotations: { "org.opencontainers.image.ref.name": tag },
  });
  writeFileSync(indexPath, JSON.stringify(top));
}

/**
 * Write an image whose layers are given as raw tar bytes straight into an OCI layout (for the
 * hostile layers no image tool would produce), to be pushed with skopeo like any other.
 * `diffIds` overrides the config's diff_ids (to test a mismatch).
 */
export function craftImage(
  layout: string,
  tag: string,
  layers: Buffer[],
  o: { diffIds?: string[]; entrypoint?: string[] } = {},
): void {
  mkdirSync(join(layout, "blobs/sha256"), { recursive: true });
  const put = (b: Buffer) => {
    const hex = createHash("sha256").update(b).digest("hex");
    writeFileSync(join(layout, "blobs/sha256", hex), b);
    return { digest: `sha256:${hex}`, size: b.length };
  };
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Entrypoint: o.entrypoint ?? ["/bin/busybox", "true"] },
      rootfs: { type: "layers", diff_ids: o.diffIds ?? layers.map((l) => put(l).digest) },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...put(config) },
      layers: layers.map((l) => ({
        mediaType: "application/vnd.oci.image.layer.v1.tar",
        ...put(l),
      })),
    }),
  );
  const m = put(manifest);
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const indexPath = join(layout, "index.json");
  let index: { schemaVersion: number; manifests: unknown[] } = { schemaVersion: 2, manifests: [] };
  try {
    index = JSON.parse(readFileSync(indexPath, "utf8")) as typeof index;
  } catch {
    // a new layout
  }
  index.manifests.push({
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    ...m,
    annotations: { "org.opencontainers.image.ref.name": tag },
  });
  writeFileSync(indexPath, JSON.stringify(index));
}

/** A layer step that puts busybox-static at /bin/busybox (the base of most test images). */
export function busyboxLayer(rootfs: string): void {
  mkdirSync(join(rootfs, "bin"), { recursive: true });
  copyFileSync("/bin/busybox", join(rootfs, "bin/busybox"));
  chmodSync(join(rootfs, "bin/busybox"), 0o755);
}

/** A registry under `dir` holding one busybox image, built by umoci and pushed by skopeo. */
export async function registryWithBusybox(
  dir: string,
): Promise<{ registry: TestRegistry; ref: string }> {
  const registry = await startRegistry(join(dir, "registry"));
  const layout = join(dir, "layout");
  buildImage(layout, "v1", { layers: [busyboxLayer] }, dir);
  const ref = `${registry.host}/test/bb:v1`;
  push(layout, "v1", ref);
  return { registry, ref };
}
