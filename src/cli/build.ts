import { buildContainer, type BuildResult } from "../bundle/build.js";
import { UsageError } from "../errors.js";
import { loadFor, type Command } from "./context.js";
import type { ResolvedConfig, ResolvedContainer } from "../config/types.js";

/** The named containers (all when none are named), or a usage error naming the known ones. */
export function selectContainers(
  config: ResolvedConfig,
  names: readonly string[],
): ResolvedContainer[] {
  if (names.length === 0) return Object.values(config.containers);
  return names.map((n) => {
    const c = config.containers[n];
    if (!c)
      throw new UsageError(
        `no container named ${JSON.stringify(n)} in ${config.file}. known: ${Object.keys(config.containers).join(", ") || "(none)"}`,
      );
    return c;
  });
}

export const buildCommand: Command = {
  name: "build",
  summary: "write the OCI bundle (config.json + rootfs) of each container",
  usage: "railyard build [NAME...] [--force]",
  help: `Builds the bundle of every container (or only the named ones) under <stateDir>/bundles/NAME
and prints where. A bundle that is already up to date is left alone unless --force is given.

  --force   rebuild even when nothing changed`,
  flags: { long: { force: false } },
  async run(ctx) {
    const config = await loadFor(ctx, "build");
    const results: BuildResult[] = [];
    for (const c of selectContainers(config, ctx.args.positionals))
      results.push(
        await buildContainer(config, c, {
          log: ctx.debug,
          warn: ctx.info,
          env: ctx.env,
          force: ctx.args.flags["force"] === true,
        }),
      );
    if (ctx.args.globals.json) ctx.out(JSON.stringify(results, null, 2));
    else {
      const width = Math.max(0, ...results.map((r) => r.container.length));
      for (const r of results)
        ctx.out(
          `${r.container.padEnd(width)}  ${r.bundle}  ${r.changed ? "built" : "up to date"} (${r.entries} entries)`,
        );
    }
    return 0;
  },
};
