import { UsageError } from "../errors.js";
import { selectContainers } from "./select.js";
import { stderrProgress } from "./progress.js";
import { loadFor, type Command } from "./context.js";

export const lockCommand: Command = {
  name: "lock",
  summary: "pin every image reference to a digest in railyard.lock (--update re-resolves tags)",
  usage: "railyard lock [--update] [NAME...]",
  help: `Resolves the image of every image container that railyard.lock does not pin yet, pulling it,
and records the digest. With --update, re-resolves the tags of the named containers (all when
none are named) even when they are pinned.

  --update   re-resolve tags that are already locked`,
  flags: { long: { update: false } },
  async run(ctx) {
    const [config, { acquireImage }, { lockPathFor, readLock }] = await Promise.all([
      loadFor(ctx, "lock"),
      import("../image/acquire.js"),
      import("../image/lock.js"),
    ]);
    const update = ctx.args.flags["update"] === true;
    if (!update && ctx.args.positionals.length > 0)
      throw new UsageError("naming containers needs --update: railyard lock --update NAME...");
    const onEvent = stderrProgress({ json: false, out: ctx.out });
    const path = lockPathFor(config.file);
    const before = readLock(path).images;
    const rows: { container: string; ref: string; digest: string; changed: boolean }[] = [];
    for (const c of selectContainers(config, ctx.args.positionals)) {
      if (!c.image) continue;
      const img = await acquireImage(config, c, { env: ctx.env, onEvent, log: ctx.debug, update });
      rows.push({
        container: c.name,
        ref: c.image.ref,
        digest: img.digest,
        changed: before[c.image.ref]?.digest !== img.digest,
      });
    }
    if (ctx.args.globals.json) ctx.out(JSON.stringify({ lockFile: path, images: rows }, null, 2));
    else
      for (const r of rows)
        ctx.out(`${r.ref}  ${r.digest}  ${r.changed ? "updated" : "unchanged"}`);
    return 0;
  },
};
