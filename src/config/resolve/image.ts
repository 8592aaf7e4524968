/** An image container's image: its reference (or file), pull policy, login and build. */
import { posix } from "node:path";
import type { Report } from "./context.js";
import { checkAbsolutePath } from "../../model/parse.js";
import { formatReference, parseReference } from "../../model/reference.js";
import { isRemoteContext, parseGitContext } from "../../model/git-context.js";
import type {
  BuildConfig,
  ContainerConfig,
  ResolvedBuild,
  ResolvedImage,
} from "../../model/types.js";

export function resolveImage(
  name: string,
  c: ContainerConfig,
  r: Report,
  configFile: string,
): ResolvedImage | undefined {
  let ref: string | undefined;
  if (c.image !== undefined) {
    try {
      ref = formatReference(parseReference(c.image));
    } catch (e) {
      r(["image"], (e as Error).message);
      return undefined;
    }
  }
  let file: string | undefined;
  if (c.imageFile !== undefined) {
    const path = c.imageFile.startsWith("oci:")
      ? (c.imageFile.slice(4).split(":")[0] ?? "")
      : c.imageFile;
    const bad = checkAbsolutePath(path);
    if (bad) {
      r(
        ["imageFile"],
        `${bad}. expected a docker-archive or oci-archive tar, or "oci:/path/to/layout[:tag]"`,
      );
      return undefined;
    }
    file = c.imageFile;
  }
  const build = c.build === undefined ? undefined : resolveBuild(c.build, configFile, r);
  if (c.build !== undefined && file !== undefined)
    r(["build"], "cannot be combined with imageFile: the image comes from one or the other");
  const entrypoint =
    c.entrypoint === undefined
      ? undefined
      : typeof c.entrypoint === "string"
        ? [c.entrypoint]
        : c.entrypoint;
  let login: ResolvedImage["login"];
  if (c.login) {
    const bad = checkAbsolutePath(c.login.passwordFile);
    if (bad) r(["login", "passwordFile"], bad);
    const registry = c.login.registry ?? (ref ? parseReference(ref).domain : undefined);
    if (!registry)
      r(["login", "registry"], "is required when the image has no registry to take it from");
    else login = { registry, username: c.login.username, passwordFile: c.login.passwordFile };
  }
  return {
    ref: ref ?? `localhost/${name.toLowerCase()}:latest`,
    ...(file !== undefined ? { file } : {}),
    ...(build ? { build } : {}),
    ...(entrypoint !== undefined ? { entrypoint } : {}),
    ...(c.cmd !== undefined ? { cmd: c.cmd } : {}),
    pull: c.pull ?? "missing",
    ...(login ? { login } : {}),
  };
}

/** A build's paths made absolute: the context against the config file's directory, the Dockerfile against the context. */
export function resolveBuild(
  b: string | BuildConfig,
  configFile: string,
  r: Report,
): ResolvedBuild | undefined {
  const o = typeof b === "string" ? { context: b } : b;
  const at: PropertyKey[] = typeof b === "string" ? ["build"] : ["build", "context"];
  const badContext = o.context === "" || o.context.includes("\0");
  if (badContext) r(at, "must be a directory: the build context");
  const remote = isRemoteContext(o.context) ? parseGitContext(o.context) : undefined;
  if (remote && "problem" in remote) r(at, `${JSON.stringify(o.context)} ${remote.problem}`);
  const git = remote && !("problem" in remote) ? remote : undefined;
  const context = git ? o.context : posix.resolve(posix.dirname(configFile), o.context);
  let dockerfile: string | undefined;
  if (o.dockerfile !== undefined) {
    if (o.dockerfile === "" || o.dockerfile.includes("\0"))
      r(["build", "dockerfile"], "must be a file: the Dockerfile, relative to the context");
    else if (git && (posix.isAbsolute(o.dockerfile) || o.dockerfile.split("/").includes("..")))
      r(["build", "dockerfile"], "must be a file inside the repository, relative to the context");
    // A git context's is found in the checkout, at build.
    else dockerfile = git ? posix.normalize(o.dockerfile) : posix.resolve(context, o.dockerfile);
  }
  for (const [k, val] of Object.entries(o.args ?? {}))
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      r(
        ["build", "args", k],
        "is not an ARG name (letters, digits and _, not starting with a digit)",
      );
    else if (val.includes("\0")) r(["build", "args", k], "contains a NUL byte");
  if (o.target !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(o.target))
    r(["build", "target"], `${JSON.stringify(o.target)} is not a stage name`);
  if (badContext || (remote && !git)) return undefined;
  return {
    context,
    ...(git ? { git } : {}),
    ...(dockerfile !== undefined ? { dockerfile } : {}),
    args: sortedArgs(o.args ?? {}),
    ...(o.target !== undefined ? { target: o.target } : {}),
  };
}

export const sortedArgs = (a: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(a).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
