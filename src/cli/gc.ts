import { tempPid } from "../util/stale.js";
import { lstatSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { loadFor, type Command } from "./context.js";
import { UsageError } from "../errors.js";

export const gcCommand: Command = {
  name: "gc",
  summary: "delete old generations (--keep N), and bundles and images nothing references",
  usage: "railyard gc [--keep N] [--dry-run]",
  help: `With --keep N, deletes all but the newest N generations (never the current one). Then deletes
bundles no remaining generation uses, image blobs and unpacked images that are neither tagged in
the store, pinned by railyard.lock or a generation, nor used by a bundle, partial downloads idle
for an hour, and the build layouts (<stateDir>/build/NAME) of containers that no longer have
build:, and the checkouts (<stateDir>/build-git/NAME) of those whose build: names no git
repository.

  --keep N    keep the newest N generations (and the current one)
  --dry-run   list what would be deleted, delete nothing`,
  flags: { long: { "dry-run": false, keep: true } },
  async run(ctx) {
    const [
      config,
      { readStamp },
      { rootfsRoot, storeDir },
      { collectGarbage },
      { lockPathFor, readLock },
      { Store },
      { withSwitchLock },
      { collectGenerations },
    ] = await Promise.all([
      loadFor(ctx, "gc"),
      import("../bundle/write.js"),
      import("../image/acquire.js"),
      import("../image/gc.js"),
      import("../image/lock.js"),
      import("../image/store.js"),
      import("../generations/activate.js"),
      import("../generations/gc.js"),
    ]);
    const store = new Store(storeDir(config)).init();
    const roots = Object.values(readLock(lockPathFor(config.file)).images).map((i) => i.digest);
    const dryRun = ctx.args.flags["dry-run"] === true;
    const keepFlag = ctx.args.flags["keep"];
    if (keepFlag !== undefined && (typeof keepFlag !== "string" || !/^[1-9]\d*$/.test(keepFlag)))
      throw new UsageError(
        `--keep takes a number of generations (at least 1), got ${JSON.stringify(keepFlag)}`,
      );
    const g = await withSwitchLock(config.stateDir, async () => {
      const gens = collectGenerations(
        config.stateDir,
        keepFlag === undefined ? undefined : Number(keepFlag),
        dryRun,
        new Set(Object.keys(config.containers)),
      );
      roots.push(...gens.images);
      return gens;
    });
    // Bundles that stay (even in a dry run, only those) keep their images.
    const bundles = join(config.stateDir, "bundles");
    let names: string[] = [];
    try {
      names = readdirSync(bundles).filter(
        (n) =>
          tempPid(n) === undefined &&
          !g.bundles.includes(n) &&
          lstatSync(join(bundles, n)).isDirectory(), // links name bundles listed themselves
      );
    } catch {
      // nothing built yet
    }
    for (const n of names) {
      const image = readStamp(join(bundles, n))?.image;
      if (image) roots.push(image);
    }
    const r = await collectGarbage(store, rootfsRoot(config), roots, { dryRun });
    // A build's own layout (image/build.ts) goes with the container's build: key.
    const buildDir = join(config.stateDir, "build");
    let layouts: string[] = [];
    try {
      layouts = readdirSync(buildDir).filter((n) => !config.containers[n]?.image?.build);
    } catch {
      // nothing built from a Dockerfile
    }
    // So does a git context's checkout (image/git.ts) with a build: that fetches one.
    const gitDir = join(config.stateDir, "build-git");
    let checkouts: string[] = [];
    try {
      checkouts = readdirSync(gitDir).filter((n) => !config.containers[n]?.image?.build?.git);
    } catch {
      // no git context fetched
    }
    if (!dryRun) {
      for (const n of layouts) rmSync(join(buildDir, n), { recursive: true, force: true });
      for (const n of checkouts) rmSync(join(gitDir, n), { recursive: true, force: true });
    }
    if (ctx.args.globals.json)
      ctx.out(
        JSON.stringify(
          {
            dryRun,
            generations: g.generations,
            bundles: g.bundles,
            ...r,
            buildLayouts: layouts,
            gitCheckouts: checkouts,
          },
          null,
          2,
        ),
      );
    else
      ctx.out(
        `${dryRun ? "would delete" : "deleted"} ${g.generations.length} generations, ${g.bundles.length} bundles, ${r.blobs.length} blobs, ${r.rootfs.length} unpacked images, ${r.partials.length} partial downloads, ${layouts.length} build layouts, ${checkouts.length} git checkouts (${(r.bytes / 1024 / 1024).toFixed(1)} MiB of image files)`,
      );
    return 0;
  },
};
