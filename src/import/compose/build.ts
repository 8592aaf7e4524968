/** build: a context, or context, dockerfile, args and target; remote contexts are refused. */
import { isRecord } from "../../util/record.js";
import type { ContainerConfig } from "../../model/types.js";
import { type Path, Reader, describe } from "./reader.js";

/** A build context that is a URL (git, https, git+ssh) or git's `git@host:` form, not a path. */
export const isRemoteContext = (ctx: string): boolean =>
  /^[a-z][a-z0-9+.-]*:\/\//i.test(ctx) || ctx.startsWith("git@");

/**
 * compose's `build:` (a context, or a map) as railyard's; what it cannot carry is named. A remote
 * context (a git or https URL) is refused, unless the service names an image too: then the image
 * is pulled, as compose pulls it rather than build when it can.
 */
export function build(
  v: unknown,
  at: Path,
  r: Reader,
  hasImage: boolean,
): ContainerConfig["build"] | undefined {
  const refuse = (path: Path, ctx: string) =>
    hasImage
      ? r.warn(
          path,
          `${ctx} is a remote context: the image is pulled, as compose does; to build it here, clone it and set build to the clone`,
        )
      : r.problem(
          path,
          `${ctx} is a remote context; railyard builds from a directory: clone it and set build to the clone`,
        );
  if (typeof v === "string") return isRemoteContext(v) ? void refuse(at, v) : r.hostPath(v);
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
  if (isRemoteContext(context)) return void refuse([...at, "context"], context);
  const out: NonNullable<Exclude<ContainerConfig["build"], string>> = {
    context: r.hostPath(context),
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
