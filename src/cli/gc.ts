import { readdirSync } from "node:fs";
import { join } from "node:path";
import { readStamp } from "../bundle/write.js";
import { rootfsRoot, storeDir } from "../image/acquire.js";
import { collectGarbage } from "../image/gc.js";
import { lockPathFor, readLock } from "../image/lock.js";
import { Store } from "../image/store.js";
import { loadFor, type Command } from "./context.js";

export const gcCommand: Command = {
  name: "gc",
  summary: "delete image blobs and unpacked rootfs that nothing references",
  usage: "railyard gc [--dry-run]",
  help: `Deletes image blobs and unpacked image directories that are neither tagged in the store,
pinned by railyard.lock, nor used by a built bundle, and partial downloads idle for an hour.

  --dry-run   list what would be deleted, delete nothing`,
  flags: { long: { "dry-run": false } },
  async run(ctx) {
    const config = await loadFor(ctx, "gc");
    const store = new Store(storeDir(config)).init();
    const roots = Object.values(readLock(lockPathFor(config.file)).images).map((i) => i.digest);
    const bundles = join(config.stateDir, "bundles");
    let names: string[] = [];
    try {
      names = readdirSync(bundles).filter((n) => !n.includes(".tmp-") && !n.includes(".old-"));
    } catch {
      // nothing built yet
    }
    for (const n of names) {
      const image = readStamp(join(bundles, n))?.image;
      if (image) roots.push(image);
    }
    const dryRun = ctx.args.flags["dry-run"] === true;
    const r = collectGarbage(store, rootfsRoot(config), roots, { dryRun });
    if (ctx.args.globals.json) ctx.out(JSON.stringify({ dryRun, ...r }, null, 2));
    else
      ctx.out(
        `${dryRun ? "would delete" : "deleted"} ${r.blobs.length} blobs, ${r.rootfs.length} unpacked images, ${r.partials.length} partial downloads (${(r.bytes / 1024 / 1024).toFixed(1)} MiB of files)`,
      );
    return 0;
  },
};
