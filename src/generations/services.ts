/**
 * The services of the current generation, by the names a user types: which are asked for, which
 * one runs (its main PID), and a file of a running container's /etc, read safely.
 */
import type { ResolvedConfig } from "../model/types.js";
import { readFileInRoot } from "../util/read-file.js";
import { own } from "../util/record.js";
import { RailyardError, UsageError } from "../errors.js";
import type { ServiceEntry } from "./manifest.js";

/** The services of the current generation that `names` (or --all) select, by name. */
export async function currentServices(
  config: ResolvedConfig,
  names: readonly string[],
  all: boolean,
): Promise<{ generation: number; services: [string, ServiceEntry][] }> {
  const { currentGeneration, readManifest } = await import("./store.js");
  const gen = currentGeneration(config.stateDir);
  if (gen === undefined) throw new UsageError("no generation is active yet. run railyard switch");
  const m = readManifest(config.stateDir, gen);
  const known = Object.keys(m.services).sort();
  if (all && names.length > 0) throw new UsageError("name services or give --all, not both");
  if (!all && names.length === 0) throw new UsageError("name one or more services, or give --all");
  for (const n of names)
    if (!own(m.services, n))
      throw new UsageError(
        `no service ${JSON.stringify(n)} in generation ${gen}. services: ${known.join(", ") || "(none)"}`,
      );
  const chosen = all ? known : [...new Set(names)];
  return { generation: gen, services: chosen.map((n) => [n, m.services[n] as ServiceEntry]) };
}

/**
 * One running service of the current generation (exec, top): its entry, its main PID and the
 * `systemctl show` properties asked for; a usage error for an unknown name, a failure (exit 1)
 * for one that is not running.
 */
export async function runningService(
  config: ResolvedConfig,
  name: string,
  props: readonly string[] = [],
): Promise<{ entry: ServiceEntry; pid: number; show: Record<string, string> }> {
  const { Systemctl } = await import("../systemd/systemctl.js");
  const { services } = await currentServices(config, [name], false);
  const [, entry] = services[0] ?? [];
  if (!entry) throw new UsageError(`no service ${JSON.stringify(name)}`);
  const [show = {}] = await new Systemctl(undefined, config.rootless).show(
    [entry.unit],
    ["ActiveState", "MainPID", ...props],
  );
  const pid = Number(show["MainPID"] ?? 0);
  if (show["ActiveState"] !== "active" || pid === 0)
    throw new RailyardError(
      `${name} is not running (${show["ActiveState"] ?? "unknown"}). railyard start ${name}, or see railyard status`,
    );
  return { entry, pid, show };
}

/**
 * A file of a running container's /etc, as it sees it (through its init's root), ""  if it has
 * none. The container's files are not trusted: its links resolve inside its root, and only a
 * regular file of at most 1 MiB is read (a link to /etc/shadow, /dev/zero or a FIFO is not).
 */
export function containerEtc(pid: number, file: string): string {
  try {
    return readFileInRoot(`/proc/${pid}/root`, `/etc/${file}`, 1 << 20).toString("utf8");
  } catch {
    return "";
  }
}
