import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ResolvedConfig } from "../model/types.js";
import type { BuiltGeneration } from "../generations/build.js";
import type { ServiceDiff, ServiceSnapshot } from "../generations/diff.js";
import { UsageError } from "../errors.js";
import { loadFor, type Command } from "./context.js";

const envRecord = (list: readonly string[]): Record<string, string> =>
  Object.fromEntries(
    list.map((kv) => {
      const i = kv.indexOf("=");
      return i < 0 ? [kv, ""] : [kv.slice(0, i), kv.slice(i + 1)];
    }),
  );

/**
 * The services of a generation on disk, with the environment each bundle starts with: its
 * environmentFiles as they read now, which is what a start (or a rollback) would give it.
 */
export async function generationSnapshots(
  stateDir: string,
  n: number,
): Promise<Record<string, ServiceSnapshot>> {
  const [{ readManifest, readGenerationConfig }, { readEnvFiles }, { mergeStartEnv }] =
    await Promise.all([
      import("../generations/store.js"),
      import("../bundle/host.js"),
      import("../bundle/env-files.js"),
    ]);
  const m = readManifest(stateDir, n);
  const config = readGenerationConfig(stateDir, n);
  const out: Record<string, ServiceSnapshot> = {};
  for (const [name, entry] of Object.entries(m.services)) {
    const container = config?.containers[name];
    let env: Record<string, string> = { ...(container?.environment ?? {}) };
    if (entry.bundle)
      try {
        const spec = JSON.parse(
          readFileSync(join(stateDir, "bundles", entry.bundle, "config.json"), "utf8"),
        ) as { process?: { env?: string[] } };
        let files: Record<string, string> = {};
        if (container && config)
          try {
            files = readEnvFiles(container, config.file);
          } catch {
            // a file gone since: its start would fail, and the bundle's own env is what is known
          }
        const keep = Object.keys(container?.environment ?? {});
        env = envRecord(mergeStartEnv(spec.process?.env ?? [], files, keep));
      } catch {
        // a bundle removed by hand: the config's own environment is what is known
      }
    out[name] = { entry, env, ...(container ? { container } : {}) };
  }
  return out;
}

/** The services a build of the config on disk would run (built without writing). */
export async function builtSnapshots(
  config: ResolvedConfig,
  g: BuiltGeneration,
): Promise<Record<string, ServiceSnapshot>> {
  const { bundleEnv } = await import("../bundle/build.js");
  const envs = new Map(g.bundles.map((b) => [b.container, bundleEnv(b)]));
  const out: Record<string, ServiceSnapshot> = {};
  for (const [name, entry] of Object.entries(g.manifest.services)) {
    const container = config.containers[name];
    const env = envs.get(name);
    out[name] = {
      entry,
      env: env ? envRecord(env) : { ...(container?.environment ?? {}) },
      ...(container ? { container } : {}),
    };
  }
  return out;
}

/**
 * What a switch to `g` (built from the config on disk) changes in the current generation;
 * `rotated` are the services whose secrets or environmentFiles changed since they started.
 */
export async function diffFromCurrent(
  config: ResolvedConfig,
  g: BuiltGeneration,
  rotated: readonly string[] = [],
): Promise<ServiceDiff[]> {
  const [{ currentGeneration }, { diffServices, withRotated }] = await Promise.all([
    import("../generations/store.js"),
    import("../generations/diff.js"),
  ]);
  const cur = currentGeneration(config.stateDir);
  const diffs = diffServices(
    cur !== undefined ? await generationSnapshots(config.stateDir, cur) : {},
    await builtSnapshots(config, g),
  );
  return withRotated(
    diffs,
    rotated.filter((n) => n in g.manifest.services),
  );
}

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
