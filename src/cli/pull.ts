import { own } from "../util/record.js";
import { stderrProgress } from "./progress.js";
import { loadFor, type Command } from "./context.js";
import { normaliseArch } from "../model/parse.js";

export const pullCommand: Command = {
  name: "pull",
  summary: "pull images into the store (container names or references); updates railyard.lock",
  usage: "railyard pull [NAME|REF...]",
  help: `Pulls each named container's image (all image containers when none are named), re-resolving
tags, and records the digests in railyard.lock beside the config. A reference that names no
container is pulled into the store only. Progress bars go to stderr on a terminal; --json prints
progress as JSON lines.`,
  flags: { long: {} },
  async run(ctx) {
    const [
      config,
      { acquireImage, storeDir },
      { pullImage },
      { formatReference, parseReference },
      { Store },
    ] = await Promise.all([
      loadFor(ctx, "pull"),
      import("../image/acquire.js"),
      import("../image/pull.js"),
      import("../model/reference.js"),
      import("../image/store.js"),
    ]);
    const onEvent = stderrProgress({ json: ctx.args.globals.json, out: ctx.out });
    const names =
      ctx.args.positionals.length > 0
        ? ctx.args.positionals
        : Object.keys(config.containers).filter((n) => config.containers[n]?.image);
    for (const n of names) {
      const c = own(config.containers, n);
      if (c?.image) {
        const img = await acquireImage(config, c, {
          env: ctx.env,
          onEvent,
          log: ctx.debug,
          update: true,
        });
        if (!ctx.args.globals.json) ctx.out(`${c.image.ref}  ${img.digest}`);
        continue;
      }
      const ref = parseReference(n);
      const store = new Store(storeDir(config)).init();
      const img = await pullImage(store, ref, {
        platform: {
          os: "linux",
          architecture: normaliseArch(process.arch),
        },
        registries: config.registries,
        env: ctx.env,
        onEvent,
      });
      if (!ctx.args.globals.json) ctx.out(`${formatReference(ref)}  ${img.digest}`);
    }
    return 0;
  },
};
