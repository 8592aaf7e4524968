/**
 * What a generation runs, service by service, for diff: the entry, the environment each bundle
 * starts with, and the container. From a generation on disk, or from one just built.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ResolvedConfig } from "../model/types.js";
import type { BuiltGeneration } from "./build.js";
import type { ServiceDiff, ServiceSnapshot } from "./diff.js";

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
      import("./store.js"),
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
    import("./store.js"),
    import("./diff.js"),
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
