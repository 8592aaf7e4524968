import { loadFor, type Command } from "./context.js";

export const generationsCommand: Command = {
  name: "generations",
  summary: "list the generations, marking the current one",
  usage: "railyard generations",
  help: `Lists every generation with its creation time, config hash and services; * marks the current
one. A generation whose switch failed (a service did not settle) says so, with the reason;
rollback and update skip it.`,
  flags: { long: {} },
  async run(ctx) {
    const [config, { currentGeneration, listGenerations, readFailed, readManifest }] =
      await Promise.all([loadFor(ctx, "generations"), import("../generations/store.js")]);
    const cur = currentGeneration(config.stateDir);
    const rows = listGenerations(config.stateDir).map((n) => {
      const m = readManifest(config.stateDir, n);
      const failed = readFailed(config.stateDir, n);
      return {
        generation: n,
        current: n === cur,
        created: m.created,
        configHash: m.configHash,
        services: Object.keys(m.services),
        failed: failed ?? null,
      };
    });
    if (ctx.args.globals.json) ctx.out(JSON.stringify(rows, null, 2));
    else if (rows.length === 0)
      ctx.out(
        `no generations yet in ${config.stateDir}: railyard build or railyard switch makes the first`,
      );
    else
      for (const r of rows)
        ctx.out(
          `${r.current ? "*" : " "} ${String(r.generation).padStart(4)}  ${r.created}  ${r.configHash.slice(7, 19)}  ${r.services.join(", ")}${r.failed ? `  FAILED: ${r.failed.reason}` : ""}`,
        );
    return 0;
  },
};
