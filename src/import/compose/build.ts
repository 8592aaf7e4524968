/** build: a context (a directory or a git repository), or context, dockerfile, args and target. */
import { isRecord } from "../../util/record.js";
import type { ContainerConfig } from "../../model/types.js";
import { isRemoteContext, parseGitContext } from "../../model/git-context.js";
import { type Path, Reader, describe } from "./reader.js";

/**
 * compose's `build:` (a context, or a map) as railyard's; what it cannot carry is named. A git
 * context carries over (railyard fetches it with git at build), unless the service names an
 * image too: then the image is pulled, as compose pulls it rather than build when it can. A
 * remote context that is no git repository (a tarball URL) is refused.
 */
export function build(
  v: unknown,
  at: Path,
  r: Reader,
  hasImage: boolean,
): ContainerConfig["build"] | undefined {
  /** A remote context: kept when it is a git repository and the service has no image. */
  const remote = (path: Path, ctx: string): boolean => {
    const git = parseGitContext(ctx);
    if ("problem" in git) r.problem(path, `${ctx} ${git.problem}`);
    else if (hasImage)
      r.warn(
        path,
        `${ctx} is a remote context: the image is pulled, as compose does. to build it here instead, give the container build: { context: "${ctx}" } (railyard fetches it with git)`,
      );
    return !("problem" in git) && !hasImage;
  };
  if (typeof v === "string")
    return isRemoteContext(v) ? (remote(at, v) ? v : undefined) : r.hostPath(v);
  if (!isRecord(v))
    return void r.problem(at, `expected a context directory or a map, got ${describe(v)}`);
  for (const k of Object.keys(v))
    if (!["context", "dockerfile", "args", "target"].includes(k))
      r.warn(
        [...at, k],
        "is not imported; railyard builds with the context, dockerfile, args and target",
      );
  const context = v["context"] === undefined ? "." : r.string(v["context"], [...at, "context"]);
  if (context === undefined) return undefined;
  const isRemote = isRemoteContext(context);
  if (isRemote && !remote([...at, "context"], context)) return undefined;
  const out: NonNullable<Exclude<ContainerConfig["build"], string>> = {
    context: isRemote ? context : r.hostPath(context),
  };
  if (v["dockerfile"] !== undefined) {
    const f = r.string(v["dockerfile"], [...at, "dockerfile"]);
    if (f !== undefined) out.dockerfile = f;
  }
  if (v["args"] !== undefined) {
    const args = r.map(v["args"], [...at, "args"], (k, p) => r.fromEnv(k, p));
    if (Object.keys(args).length > 0) out.args = args;
  }
  if (v["target"] !== undefined) {
    const t = r.string(v["target"], [...at, "target"]);
    if (t !== undefined) out.target = t;
  }
  return out;
}
