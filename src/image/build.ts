/**
 * Images built from a Dockerfile (`build:`), by a builder the host already has: buildah (Debian's
 * package), else podman's `build`, which is buildah inside. railyard has no builder of its own.
 * The result leaves the builder as an OCI layout and enters the store through the same import
 * as `imageFile`, so a built image is verified, unpacked and garbage-collected like any other.
 *
 * What decides a rebuild is the content of the build, hashed here: every file of the context the
 * ignore file leaves in (path, type, executable bit, bytes or link target), the Dockerfile, the
 * args and the target. railyard.lock keeps that hash beside the image's digest, so a build with
 * an unchanged context runs no builder at all, and a generation names exactly the image it ran.
 */
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import dockerignoreModule, { type Ignore } from "@balena/dockerignore";
import type { ResolvedBuild } from "../config/types.js";
import { BuildError } from "../errors.js";
import { exec as realExec, type Exec } from "../util/exec.js";

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
  o: { runtime: string; pull: "missing" | "always" },
): string[] {
  return [
    "build",
    // Each step's result is kept, so the next build of a changed context reuses the steps
    // before the change (as docker does).
    "--layers",
    `--runtime=${o.runtime}`,
    `--pull=${o.pull === "always" ? "always" : "false"}`,
    ...(b.dockerfile ? ["--file", b.dockerfile] : []),
    ...(b.target ? ["--target", b.target] : []),
    ...Object.entries(b.args).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]),
    "--tag",
    tag,
    b.context,
  ];
}

/**
 * The argv that copies the built image out as an OCI layout. Uncompressed: the layers go
 * straight into railyard's store and are unpacked at once, so compressing them would only cost
 * time (seconds per hundred MB).
 */
export const pushArgv = (tag: string, layout: string): string[] => [
  "push",
  "--disable-compression",
  tag,
  `oci:${layout}:latest`,
];

/** The ignore file the builders read: .containerignore, else .dockerignore. */
function ignoreRules(context: string): string[] {
  for (const f of [".containerignore", ".dockerignore"]) {
    const p = join(context, f);
    if (existsSync(p)) return readFileSync(p, "utf8").split(/\r?\n/);
  }
  return [];
}

/**
 * The hash of everything a build depends on, as "sha256:HEX". Files the ignore file excludes do
 * not count, as they never reach the builder. Throws BuildError for a missing context or
 * Dockerfile.
 */
export function buildDigest(b: ResolvedBuild, where: string, container: string): string {
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
  const rules = ignoreRules(b.context);
  const ig = dockerignore().add(rules);
  // Without "!" exceptions, nothing under an ignored directory can come back: skip it whole.
  const prunable = !rules.some((r) => r.trim().startsWith("!"));
  const h = createHash("sha256");
  h.update("railyard-build-v1\0");
  h.update(JSON.stringify({ args: b.args, target: b.target ?? null }));
  h.update("\0dockerfile\0");
  h.update(readFileSync(dockerfile));
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
        h.update(readFileSync(path));
      } else h.update(`\0o ${rel}\0`);
    }
  };
  walk(b.context);
  return `sha256:${h.digest("hex")}`;
}

/** The last lines of a builder's output, for an error message. */
function tail(text: string, n = 15): string {
  const lines = text.trimEnd().split("\n");
  return lines.slice(-n).join("\n");
}

/**
 * Run the builder and leave the image as an OCI layout in `layout` (tag "latest"). `onLine`
 * gets the builder's output as it comes. The builder's own tag is removed afterwards: the
 * image lives on in railyard's store, and the builder keeps only its step cache.
 */
export async function runBuilder(
  builder: Builder,
  b: ResolvedBuild,
  o: {
    tag: string;
    layout: string;
    runtime: string;
    pull: "missing" | "always";
    where: string;
    container: string;
    onLine?: (line: string) => void;
    exec?: Exec;
  },
): Promise<void> {
  const exec = o.exec ?? realExec;
  const onLine = o.onLine ? (l: string) => o.onLine?.(l) : undefined;
  const built = await exec(builder.path, buildArgv(b, o.tag, o), onLine ? { onLine } : {});
  if (built.code !== 0)
    throw new BuildError(
      `${o.where}: ${builder.name} build failed (exit ${built.code}):\n${tail(built.stdout + built.stderr)}`,
      o.container,
    );
  rmSync(o.layout, { recursive: true, force: true });
  const pushed = await exec(builder.path, pushArgv(o.tag, o.layout));
  await exec(builder.path, ["rmi", o.tag]);
  if (pushed.code !== 0)
    throw new BuildError(
      `${o.where}: ${builder.name} could not write the built image: ${tail(pushed.stderr, 5)}`,
      o.container,
    );
}
