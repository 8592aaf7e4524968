import { buildContainer, type BuildResult } from "../bundle/build.js";
import { withSwitchLock } from "../generations/activate.js";
import { buildGeneration } from "../generations/build.js";
import { chooseRuntime, hostProbe } from "../runtime/detect.js";
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
  summary: "build a generation: every bundle, unit, the resolved config and lock (not activated)",
  usage: "railyard build [NAME...] [--force]",
  help: `Builds a complete generation under <stateDir>/generations/N: each container's bundle
(config.json + rootfs, named by content under <stateDir>/bundles), its systemd unit, the resolved
config and railyard.lock. If the newest generation already has exactly this content, it is reused.
Nothing is activated: that is railyard switch. With NAMEs, only those containers' bundles are built
(no generation).

  --force   rewrite bundles even when their content is unchanged`,
  flags: { long: { force: false } },
  async run(ctx) {
    const config = await loadFor(ctx, "build");
    const opts = {
      log: ctx.debug,
      warn: ctx.info,
      env: ctx.env,
      force: ctx.args.flags["force"] === true,
    };
    let results: BuildResult[];
    let generation: { generation: number; created: boolean; dir: string } | undefined;
    if (ctx.args.positionals.length > 0) {
      results = [];
      for (const c of selectContainers(config, ctx.args.positionals))
        results.push(await buildContainer(config, c, opts));
    } else {
      const runtime = chooseRuntime(config.runtime, hostProbe(ctx.env));
      ctx.debug(`runtime: ${runtime.name} (${runtime.reason})`);
      const g = await withSwitchLock(config.stateDir, () => buildGeneration(config, runtime, opts));
      results = [...g.bundles];
      generation = { generation: g.generation, created: g.created, dir: g.dir };
    }
    if (ctx.args.globals.json)
      ctx.out(JSON.stringify({ ...(generation ?? {}), bundles: results }, null, 2));
    else {
      if (generation)
        ctx.out(
          `generation ${generation.generation}${generation.created ? "" : " (unchanged)"}  ${generation.dir}`,
        );
      const width = Math.max(0, ...results.map((r) => r.container.length));
      for (const r of results)
        ctx.out(
          `${r.container.padEnd(width)}  ${r.bundle}  ${r.changed ? "built" : "up to date"} (${r.entries} entries)`,
        );
    }
    return 0;
  },
};
