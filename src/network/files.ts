/**
 * The network state railyard keeps on disk: each generation's allocation (network.json), and
 * each named network's /etc/hosts, which members bind-mount. I/O.
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ResolvedConfig, ResolvedContainer } from "../model/types.js";
import { EMPTY_ALLOCATION, type NetworkAllocation } from "./allocate.js";
import { extraHostLines, hostsNetworks, renderHostsFile } from "./hosts.js";

/** The name of a generation's allocation file. */
export const ALLOCATION_FILE = "network.json";

/**
 * The /etc/hosts that the containers on these named networks mount (stable across generations):
 * `networks/NAME/hosts` for one network, `networks/A+B/hosts` for a container on A and B, and
 * `networks/NAME/hosts.C` for container C, whose `extraHosts` only it sees.
 */
export const hostsFile = (stateDir: string, networks: readonly string[], own?: string): string =>
  join(
    stateDir,
    "networks",
    [...networks].sort().join("+"),
    own === undefined ? "hosts" : `hosts.${own}`,
  );

/** The hosts file a container on named networks mounts: its own when it has `extraHosts`. */
export const containerHostsFile = (config: ResolvedConfig, c: ResolvedContainer): string =>
  hostsFile(config.stateDir, hostsNetworks(config, c), c.extraHosts?.length ? c.name : undefined);

/** Create an empty file (and its directory) if there is none, for a bind mount's source. */
export function ensureFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  closeSync(openSync(path, "a", 0o644));
}

/** A generation's allocation; empty when the generation has none. */
export function readAllocation(generationDir: string): NetworkAllocation {
  try {
    const a = JSON.parse(readFileSync(join(generationDir, ALLOCATION_FILE), "utf8")) as unknown;
    const ok = typeof a === "object" && a !== null && "networks" in a && "private" in a;
    return ok ? (a as NetworkAllocation) : EMPTY_ALLOCATION;
  } catch {
    return EMPTY_ALLOCATION;
  }
}

/** Publish the hosts files of a generation on disk (its resolved config.json and network.json). */
export function publishGenerationHosts(generationDir: string): void {
  let config: ResolvedConfig;
  try {
    config = JSON.parse(readFileSync(join(generationDir, "config.json"), "utf8")) as ResolvedConfig;
  } catch {
    return; // a generation railyard did not finish writing has no services to serve either
  }
  if (Object.keys(config.networks ?? {}).length === 0) return;
  publishHosts(config, readAllocation(generationDir));
}

/**
 * Rewrite the hosts file of every named network, of every set of networks a container is on, and
 * of every such container with `extraHosts`, for `alloc`. In place, as docker and podman do: the
 * members' bind mounts hold the inode, so a rename would never reach them.
 */
export function publishHosts(config: ResolvedConfig, alloc: NetworkAllocation): void {
  const files = new Map(
    Object.keys(config.networks).map((n) => [
      hostsFile(config.stateDir, [n]),
      () => renderHostsFile(config, [n], alloc),
    ]),
  );
  for (const c of Object.values(config.containers)) {
    const nets = hostsNetworks(config, c);
    if (nets.length === 0) continue;
    const shared = () => renderHostsFile(config, nets, alloc);
    if (nets.length > 1) files.set(hostsFile(config.stateDir, nets), shared);
    if (c.extraHosts?.length)
      files.set(containerHostsFile(config, c), () =>
        [shared(), ...extraHostLines(config, c, alloc).map((l) => `${l}\n`)].join(""),
      );
  }
  for (const [path, render] of files) {
    ensureFile(path);
    writeInPlace(path, render());
  }
}

/** Replace a file's content, keeping its inode. */
function writeInPlace(path: string, content: string): void {
  const text = Buffer.from(content);
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, text, 0, text.length, 0);
    ftruncateSync(fd, text.length);
  } finally {
    closeSync(fd);
  }
}
