/**
 * The network state railyard keeps on disk: each generation's allocation (network.json), and
 * each named network's /etc/hosts, which members bind-mount. I/O.
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ResolvedConfig } from "../config/types.js";
import { EMPTY_ALLOCATION, type NetworkAllocation } from "./allocate.js";
import { renderHostsFile } from "./script.js";

/** The name of a generation's allocation file. */
export const ALLOCATION_FILE = "network.json";

/** The /etc/hosts that every member of a named network mounts (stable across generations). */
export const hostsFile = (stateDir: string, network: string): string =>
  join(stateDir, "networks", network, "hosts");

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
 * Rewrite every named network's hosts file for `alloc`. In place, as docker and podman do: the
 * members' bind mounts hold the inode, so a rename would never reach them.
 */
export function publishHosts(config: ResolvedConfig, alloc: NetworkAllocation): void {
  for (const network of Object.keys(config.networks)) {
    const path = hostsFile(config.stateDir, network);
    ensureFile(path);
    const text = Buffer.from(renderHostsFile(config, network, alloc));
    const fd = openSync(path, "r+");
    try {
      writeSync(fd, text, 0, text.length, 0);
      ftruncateSync(fd, text.length);
    } finally {
      closeSync(fd);
    }
  }
}
