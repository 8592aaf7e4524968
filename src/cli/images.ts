import { UsageError } from "../errors.js";
import { loadFor, type Command } from "./context.js";

export const imagesCommand: Command = {
  name: "images",
  summary: "list the images in the store, or remove their names (images rm REF...)",
  usage: "railyard images [rm REF...]",
  help: `Lists every image name in the store with the digest it points at and its size.
"railyard images rm REF..." removes names from the store; their blobs go at the next gc.`,
  flags: { long: {} },
  async run(ctx) {
    const [
      config,
      { storeDir },
      { parseManifestDocument },
      { formatReference, parseReference },
      { REF_ANNOTATION, Store },
    ] = await Promise.all([
      loadFor(ctx, "images"),
      import("../image/acquire.js"),
      import("../image/manifest.js"),
      import("../model/reference.js"),
      import("../image/store.js"),
    ]);
    const store = new Store(storeDir(config)).init();
    const [sub, ...refs] = ctx.args.positionals;
    if (sub === "rm") {
      if (refs.length === 0) throw new UsageError("usage: railyard images rm REF...");
      for (const r of refs) {
        const name = formatReference(parseReference(r));
        if (!(await store.untag(name))) throw new UsageError(`no image named ${name} in the store`);
        ctx.out(`removed ${name}`);
      }
      return 0;
    }
    if (sub !== undefined)
      throw new UsageError(
        `unknown images subcommand ${JSON.stringify(sub)}. usage: ${this.usage}`,
      );
    const rows = store.readIndex().manifests.map((m) => {
      let size = m.size;
      try {
        const doc = parseManifestDocument(store.readBlob(m.digest), m.mediaType);
        if (doc.kind === "manifest")
          size += doc.config.size + doc.layers.reduce((a, l) => a + l.size, 0);
      } catch {
        // an index: its size is the index document's
      }
      return {
        name: m.annotations?.[REF_ANNOTATION] ?? "",
        digest: m.digest,
        mediaType: m.mediaType,
        size,
      };
    });
    if (ctx.args.globals.json) ctx.out(JSON.stringify(rows, null, 2));
    else {
      const w = Math.max(4, ...rows.map((r) => r.name.length));
      ctx.out(`${"NAME".padEnd(w)}  DIGEST${" ".repeat(65)}SIZE`);
      for (const r of rows)
        ctx.out(`${r.name.padEnd(w)}  ${r.digest}  ${(r.size / 1024 / 1024).toFixed(1)} MiB`);
    }
    return 0;
  },
};
