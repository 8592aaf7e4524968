import type { BuildResult } from "../bundle/build.js";
import { loadFor, type Command } from "./context.js";
import { selectContainers } from "./select.js";
import { stderrProgress } from "./progress.js";

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
    const { buildContainer } = await import("../bundle/build.js");
    const opts = {
      log: ctx.debug,
      warn: ctx.info,
      env: ctx.env,
      force: ctx.args.flags["force"] === true,
      // Pulls and image builds show progress on a TTY; under --json, as lines on stderr (stdout
      // keeps the one result document).
      onEvent: stderrProgress({ json: ctx.args.globals.json }),
    };
    let results: BuildResult[];
    let generation: { generation: number; created: boolean; dir: string } | undefined;
    if (ctx.args.positionals.length > 0) {
      results = [];
      // The addresses the running generation gave (for an extraHosts' host-gateway).
      const { allocateFromRunning } = await import("../generations/build.js");
      const withAlloc = { ...opts, alloc: allocateFromRunning(config) };
      for (const c of selectContainers(config, ctx.args.positionals))
        results.push(await buildContainer(config, c, withAlloc));
    } else {
      const [{ chooseRuntime, hostProbe }, { withSwitchLock }, { buildGeneration }] =
        await Promise.all([
          import("../host/detect.js"),
          import("../generations/activate.js"),
          import("../generations/build.js"),
        ]);
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
