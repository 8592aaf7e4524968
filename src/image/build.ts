/**
 * Images built from a Dockerfile (`build:`), by a builder the host already has: buildah (Debian's
 * package), else podman's `build`, which is buildah inside. railyard has no builder of its own.
 * The builder commits the result into an OCI layout, and it enters the store through the same import
 * as `imageFile`, so a built image is verified, unpacked and garbage-collected like any other.
 *
 * What decides a rebuild is the content of the build, hashed here: every file of the context the
 * ignore file leaves in (path, type, executable bit, bytes or link target), the Dockerfile, the
 * args and the target. railyard.lock keeps that hash beside the image's digest, so a build with
 * an unchanged context runs no builder at all, and a generation names exactly the image it ran.
 */
import { createHash, randomBytes, type Hash } from "node:crypto";
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import dockerignoreModule, { type Ignore } from "@balena/dockerignore";
import type { ResolvedBuild } from "../model/types.js";
import { BuildError } from "../errors.js";
import { exec as realExec, type Exec } from "../util/exec.js";
import { reachable } from "./gc.js";
import { lockPathFor } from "./lock.js";
import { Store } from "./store.js";

/** The label unique to each build (see buildArgv); images that differ only in it run the same. */
export const BUILD_ID_LABEL = "org.railyard.build-id";

// The package is CommonJS (`module.exports = factory`); its types call that `default`.
const dockerignore = dockerignoreModule as unknown as () => Ignore;

export type BuilderName = "buildah" | "podman";

export interface Builder {
  readonly name: BuilderName;
  readonly path: string;
}

/** The builder to use: buildah, else podman; undefined when neither is installed. */
export function findBuilder(which: (cmd: string) => string | undefined): Builder | undefined {
  for (const name of ["buildah", "podman"] as const) {
    const path = which(name);
    if (path) return { name, path };
  }
  return undefined;
}

/**
 * The builder's argv for the build. `runtime` is the OCI runtime railyard chose (the builder's
 * own default may not work on this host: crun on hybrid cgroups); `pull` is the base images'
 * policy: "missing" normally, "always" for `railyard update`.
 */
export function buildArgv(
  b: ResolvedBuild,
  tag: string,
  o: { runtime: string; pull: "missing" | "always"; buildId: string; ignoreFile?: string },
): string[] {
  return [
    "build",
    // Each step's result is kept, so the next build of a changed context reuses the steps
    // before the change (as docker does).
    "--layers",
    // A label of this build's own (BUILD_ID_LABEL): buildah 1.28 fails to commit into an oci:
    // layout when every step is cached ("locating new copy of image"), as when a file is changed
    // back. The label makes the final commit new each time; the steps stay cached.
    "--label",
    `${BUILD_ID_LABEL}=${o.buildId}`,
    `--runtime=${o.runtime}`,
    `--pull=${o.pull === "always" ? "always" : "false"}`,
    ...(b.dockerfile ? ["--file", b.dockerfile] : []),
    ...(b.target ? ["--target", b.target] : []),
    ...(o.ignoreFile ? ["--ignorefile", o.ignoreFile] : []),
    ...Object.entries(b.args).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]),
    "--tag",
    tag,
    b.context,
  ];
}

/**
 * What the builder leaves out of the context: the rules of its ignore file (.containerignore,
 * else .dockerignore), then railyard's own files inside the context (`own`: the lock, a state
 * dir). Those change at every build, so a context that holds them (`build: .` beside the config)
 * would never be the same twice; the hash and the builder both leave them out, last, so that no
 * "!" rule of the user's brings them back.
 */
export function contextRules(context: string, own: readonly string[]): string[] {
  return [...userRules(context), ...ownRules(context, own)];
}

function userRules(context: string): string[] {
  for (const f of [".containerignore", ".dockerignore"]) {
    const p = join(context, f);
    if (existsSync(p)) return readFileSync(p, "utf8").split(/\r?\n/);
  }
  return [];
}

/** A rule for each of `own` inside the context, escaped (* ? [ \ in a name match only so). */
function ownRules(context: string, own: readonly string[]): string[] {
  return own
    .map((p) => relative(context, p))
    .filter((r) => r !== "" && !r.startsWith("..") && !isAbsolute(r))
    .map((r) => r.replace(/[*?[\]\\]/g, "\\$&"));
}

/** railyard's own files, which a build context never includes: the config's lock, the state dir. */
export const railyardOwnFiles = (config: { file: string; stateDir: string }): string[] => [
  lockPathFor(config.file),
  config.stateDir,
];

/**
 * The hash of everything a build depends on, as "sha256:HEX". Files the ignore file excludes do
 * not count, as they never reach the builder. Throws BuildError for a missing context or
 * Dockerfile.
 */
export function buildDigest(
  b: ResolvedBuild,
  where: string,
  container: string,
  own: readonly string[] = [],
): string {
  let st;
  try {
    st = lstatSync(b.context);
  } catch {
    throw new BuildError(`${where}: the build context ${b.context} does not exist`, container);
  }
  if (!st.isDirectory())
    throw new BuildError(`${where}: the build context ${b.context} is not a directory`, container);
  const dockerfile =
    b.dockerfile ??
    [join(b.context, "Containerfile"), join(b.context, "Dockerfile")].find((f) => existsSync(f));
  if (!dockerfile || !existsSync(dockerfile))
    throw new BuildError(
      `${where}: ${dockerfile ?? `no Containerfile or Dockerfile in ${b.context}`}${dockerfile ? " does not exist" : ""}`,
      container,
    );
  const rules = contextRules(b.context, own);
  const ig = dockerignore().add(rules);
  // Without "!" exceptions, nothing under an ignored directory can come back: skip it whole.
  const prunable = !rules.some((r) => r.trim().startsWith("!"));
  const h = createHash("sha256");
  h.update("railyard-build-v1\0");
  h.update(JSON.stringify({ args: b.args, target: b.target ?? null }));
  h.update("\0dockerfile\0");
  h.update(readFileSync(dockerfile));
  const buf = Buffer.allocUnsafe(1 << 20);
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = relative(b.context, path);
      const s = lstatSync(path);
      const ignored = ig.ignores(s.isDirectory() ? `${rel}/` : rel);
      if (s.isDirectory()) {
        if (ignored && prunable) continue;
        if (!ignored) h.update(`\0d ${rel}\0`);
        walk(path);
        continue;
      }
      if (ignored) continue;
      if (s.isSymbolicLink()) h.update(`\0l ${rel}\0${readlinkSync(path)}`);
      else if (s.isFile()) {
        h.update(`\0f ${rel} ${s.mode & 0o111 ? "x" : "-"} ${s.size}\0`);
        hashFile(h, path, buf);
      } else h.update(`\0o ${rel}\0`);
    }
  };
  try {
    walk(b.context);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new BuildError(
      `${where}: cannot read ${err.path ?? b.context} in the build context: ${err.code ?? err.message}`,
      container,
    );
  }
  return `sha256:${h.digest("hex")}`;
}

/** A file into the hash a buffer at a time: a context may hold files larger than memory allows. */
function hashFile(h: Hash, path: string, buf: Buffer): void {
  const fd = openSync(path, "r");
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

/** The last lines of a builder's output, for an error message. */
function tail(text: string, n = 15): string {
  const lines = text.trimEnd().split("\n");
  return lines.slice(-n).join("\n");
}

/**
 * Blobs of a build layout that its index no longer reaches (the layers of earlier builds): the
 * layout keeps only what the last build is made of, which the next one reuses.
 */
function pruneLayout(layout: string): void {
  const store = new Store(layout);
  const { blobs } = reachable(store);
  for (const f of readdirSync(store.blobs))
    if (!blobs.has(`sha256:${f}`)) rmSync(join(store.blobs, f), { force: true });
}

/**
 * Run the builder, which commits the image straight into the OCI layout `layout` (tag
 * "latest"). The layout stays from one build to the next: the builder then writes only the
 * layers that changed, where exporting the image anew would re-tar its base every time
 * (seconds per hundred MB). `onLine` gets the builder's output as it comes.
 */
export async function runBuilder(
  builder: Builder,
  b: ResolvedBuild,
  o: {
    layout: string;
    runtime: string;
    pull: "missing" | "always";
    where: string;
    container: string;
    /** railyard's own files (railyardOwnFiles), left out of the context as the hash leaves them. */
    own?: readonly string[];
    onLine?: (line: string) => void;
    exec?: Exec;
  },
): Promise<void> {
  const exec = o.exec ?? realExec;
  // The builder gets the very rules the hash used, when railyard adds any of its own.
  // Kept in the layout's own directory, which the builder writes and gc removes with it.
  let ignoreFile: string | undefined;
  if (ownRules(b.context, o.own ?? []).length > 0) {
    ignoreFile = join(o.layout, "railyard.ignore");
    mkdirSync(o.layout, { recursive: true, mode: 0o700 });
    writeFileSync(ignoreFile, `${contextRules(b.context, o.own ?? []).join("\n")}\n`, {
      mode: 0o600,
    });
  }
  const built = await exec(
    builder.path,
    buildArgv(b, `oci:${o.layout}:latest`, {
      ...o,
      buildId: randomBytes(8).toString("hex"),
      ...(ignoreFile ? { ignoreFile } : {}),
    }),
    o.onLine ? { onLine: o.onLine } : {},
  );
  if (built.code !== 0)
    throw new BuildError(
      `${o.where}: ${builder.name} build failed (exit ${built.code}):\n${tail(built.stdout + built.stderr)}`,
      o.container,
    );
  pruneLayout(o.layout);
}
