import { own } from "../util/record.js";
import { UsageError } from "../errors.js";
import type { ResolvedConfig, ResolvedContainer } from "../model/types.js";

/** The one NAME a command takes (inspect, run, logs, top), or its usage as an error. */
export function oneName(positionals: readonly string[], usage: string): string {
  const [name, ...more] = positionals;
  if (!name || more.length > 0) throw new UsageError(`usage: ${usage}`);
  return name;
}

/** The named containers (all when none are named), or a usage error naming the known ones. */
export function selectContainers(
  config: ResolvedConfig,
  names: readonly string[],
): ResolvedContainer[] {
  if (names.length === 0) return Object.values(config.containers);
  return names.map((n) => {
    const c = own(config.containers, n);
    if (!c)
      throw new UsageError(
        `no container named ${JSON.stringify(n)} in ${config.file}. known: ${Object.keys(config.containers).join(", ") || "(none)"}`,
      );
    return c;
  });
}
