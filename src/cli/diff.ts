import { builtSnapshots, generationSnapshots } from "../generations/snapshots.js";
import type { ServiceSnapshot } from "../generations/diff.js";
import { UsageError } from "../errors.js";
import { loadFor, type Command } from "./context.js";

export const diffCommand: Command = {
  name: "diff",
  summary: "what differs between two generations, or the current one and the config on disk",
  usage: "railyard diff [A] [B]",
  help: `Shows, per service and per field, what differs between generation A (default: the current
one) and generation B (default: what the config on disk builds, without writing anything):
the image and its digest, environment keys, mounts, published ports, capabilities, limits,
the healthcheck and every other setting, and whether a switch would restart the service.
Environment values are compared but never printed: a changed key shows as ~KEY.

  railyard diff          the current generation → the config on disk
  railyard diff 3        generation 3 → the config on disk
  railyard diff 3 5      generation 3 → generation 5`,
  flags: { long: {} },
  async run(ctx) {
    const pos = ctx.args.positionals;
    if (pos.length > 2) throw new UsageError("railyard diff takes at most two generations: A B");
    for (const p of pos)
      if (!/^\d+$/.test(p))
        throw new UsageError(
          `a generation is a number (see railyard generations), got ${JSON.stringify(p)}`,
        );
    const [config, store, { diffServices, formatDiff }] = await Promise.all([
      loadFor(ctx, "diff"),
      import("../generations/store.js"),
      import("../generations/diff.js"),
    ]);
    const a = pos[0] !== undefined ? Number(pos[0]) : store.currentGeneration(config.stateDir);
    const before = a === undefined ? {} : await generationSnapshots(config.stateDir, a);
    let after: Record<string, ServiceSnapshot>;
    let bName: string;
    if (pos[1] !== undefined) {
      after = await generationSnapshots(config.stateDir, Number(pos[1]));
      bName = `generation ${pos[1]}`;
    } else {
      const [{ buildGeneration }, { chooseRuntime, hostProbe }] = await Promise.all([
        import("../generations/build.js"),
        import("../host/detect.js"),
      ]);
      const runtime = chooseRuntime(config.runtime, hostProbe(ctx.env));
      const g = await buildGeneration(config, runtime, {
        log: ctx.debug,
        warn: ctx.info,
        env: ctx.env,
        write: false,
      });
      after = await builtSnapshots(config, g);
      bName = config.file;
    }
    let diffs = diffServices(before, after);
    if (pos.length === 0) {
      // The current generation against the disk: also what changed in files read at start.
      const [{ startValues }, { withRotated }] = await Promise.all([
        import("../generations/secret-digests.js"),
        import("../generations/diff.js"),
      ]);
      const rotated = startValues(config, { dryRun: true }).rotated;
      diffs = withRotated(
        diffs,
        rotated.filter((n) => n in after),
      );
    }
    const aName = a === undefined ? "(no generation)" : `generation ${a}`;
    if (ctx.args.globals.json)
      ctx.out(JSON.stringify({ from: aName, to: bName, services: diffs }, null, 2));
    else if (diffs.length === 0) ctx.out(`no differences between ${aName} and ${bName}`);
    else {
      ctx.out(`${aName} → ${bName}`);
      for (const l of formatDiff(diffs)) ctx.out(l);
    }
    return 0;
  },
};
