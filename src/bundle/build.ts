import { join } from "node:path";
import { computeClosure } from "../closure/index.js";
import { hostFs } from "../closure/fs.js";
import type { ResolvedConfig, ResolvedContainer } from "../config/types.js";
import {
  deviceInfo,
  hostNofileHard,
  prepareMountSources,
  readEnvFiles,
  readHostResolvConf,
} from "./host.js";
import { planRootfs } from "./rootfs.js";
import { renderSpec, serializeSpec } from "./spec.js";
import { fingerprint, readStamp, writeBundle, type LinkMode } from "./write.js";

export interface BuildResult {
  readonly container: string;
  readonly bundle: string;
  /** False when the existing bundle was already up to date. */
  readonly changed: boolean;
  readonly fingerprint: string;
  readonly entries: number;
  readonly program: string;
  readonly packages: readonly string[];
}

export interface BuildOptions {
  readonly log?: (message: string) => void;
  /** Rebuild even if the stamp says the bundle is current. */
  readonly force?: boolean;
}

/** OCI architecture names -> dpkg's. */
const DPKG_ARCH: Record<string, string> = { "386": "i386", arm: "armhf" };

export const bundleDir = (config: ResolvedConfig, name: string): string =>
  join(config.stateDir, "bundles", name);

/** Host-program containers get their files by hardlink when read-only, by copy when writable. */
export const linkModeFor = (c: ResolvedContainer): LinkMode => (c.readonly ? "hardlink" : "copy");

/** Build (or confirm up to date) the bundle of one container. */
export function buildContainer(
  config: ResolvedConfig,
  c: ResolvedContainer,
  o: BuildOptions = {},
): BuildResult {
  const log = o.log ?? (() => {});
  const closure = computeClosure(c.args[0] ?? "", {
    fs: hostFs(),
    mode: c.closure,
    include: c.include,
    ...(c.environment["PATH"] ? { searchPath: c.environment["PATH"] } : {}),
    arch: DPKG_ARCH[c.arch] ?? c.arch,
  });
  const fileMounts = prepareMountSources(c, log);
  const plan = planRootfs(c, closure.entries, { hostResolvConf: readHostResolvConf(), fileMounts });
  const args = [closure.program, ...c.args.slice(1)];
  const spec = renderSpec(c, {
    hostNofileHard: hostNofileHard(),
    fileEnvironment: readEnvFiles(c),
    devices: deviceInfo(c),
    args,
  });
  const specText = serializeSpec(spec);
  const linkMode = linkModeFor(c);
  const fp = fingerprint(specText, plan, linkMode);
  const dir = bundleDir(config, c.name);
  const base = {
    container: c.name,
    bundle: dir,
    fingerprint: fp,
    entries: plan.size,
    program: closure.program,
    packages: closure.packages,
  };
  if (!o.force && readStamp(dir)?.fingerprint === fp) return { ...base, changed: false };
  writeBundle(dir, specText, plan, {
    fingerprint: fp,
    container: c.name,
    program: closure.program,
    packages: closure.packages,
    entries: plan.size,
    linkMode,
  });
  log(
    `built ${c.name}: ${plan.size} rootfs entries (${linkMode}), ${closure.packages.length} packages`,
  );
  return { ...base, changed: true };
}
