import { readHostFacts } from "../host/facts.js";
import { containerId } from "../model/ids.js";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  copyFileSync,
} from "node:fs";
import { join } from "node:path";
import { buildContainer, type BuildOptions, type BuildResult } from "../bundle/build.js";
import type { ResolvedConfig, ResolvedContainer } from "../model/types.js";
import { lockPathFor } from "../image/lock.js";
import type { RuntimeChoice } from "../host/detect.js";
import { renderHealthUnits, renderUnit, restartRelevant } from "../systemd/unit.js";
import { START_ENV_AWK, START_ENV_FILE } from "../bundle/env-files.js";
import { onFailureTemplate, renderOnFailureTemplate } from "../systemd/notify.js";
import { renderEngineUnit } from "../systemd/engine.js";
import { acquireImage } from "../image/acquire.js";
import { parseReference } from "../model/reference.js";
import { hostProbe } from "../host/detect.js";
import { BuildError } from "../errors.js";
import { exec, type Exec } from "../util/exec.js";
import { sameContent, type GenerationManifest, type ServiceEntry } from "./manifest.js";
import {
  MANIFEST,
  currentGeneration,
  generationDir,
  generationsDir,
  listGenerations,
  readManifest,
} from "./store.js";
import { basename } from "node:path";
import { EMPTY_ALLOCATION, allocateNetworks, type NetworkAllocation } from "../network/allocate.js";
import { loopback6Ports } from "../model/network.js";
import { containerNetwork, renderNetScript } from "../network/script.js";
import { isPrivateOrNamed } from "../model/network.js";
import { renderProxyUnits } from "../systemd/proxy.js";
import { ALLOCATION_FILE, readAllocation } from "../network/files.js";
import { checkNetworkHost, foreignRoutes } from "../network/host.js";
import type { HostRoute } from "../model/address.js";

const sha256 = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;

export interface BuiltGeneration {
  readonly generation: number;
  readonly dir: string;
  readonly manifest: GenerationManifest;
  /** False when the newest generation already had exactly this content (nothing was written). */
  readonly created: boolean;
  readonly bundles: readonly BuildResult[];
}

/** The bundle path every unit starts: stable across generations, through the `current` link. */
export const unitBundlePath = (stateDir: string, name: string): string =>
  join(stateDir, "current", "bundles", name);

/** The network script a unit runs, through the `current` link like its bundle. */
export const unitNetScriptPath = (stateDir: string, name: string): string =>
  join(stateDir, "current", "network", `${name}.sh`);

/**
 * The networks' addresses for `config`, keeping those of the generation the host runs (a build,
 * a switch and a foreground run all start from it), around the host's `routes` elsewhere.
 */
export function allocateFromRunning(
  config: ResolvedConfig,
  routes: readonly HostRoute[] = hostRoutesFor(config),
): NetworkAllocation {
  const current = currentGeneration(config.stateDir);
  return allocateNetworks(
    config,
    current === undefined
      ? EMPTY_ALLOCATION
      : readAllocation(generationDir(config.stateDir, current)),
    // Routes narrower than the pools (other projects' networks, a small VPN) are stepped
    // around; one that covers a whole pool (a LAN) is checkNetworkHost's to explain.
    routes.flatMap((r) => (r.subnet.prefix > 16 ? [r.subnet] : [])),
  );
}

/** The host's routes elsewhere (see foreignRoutes), read only when a container has a network. */
const hostRoutesFor = (config: ResolvedConfig): HostRoute[] =>
  Object.values(config.containers).some(isPrivateOrNamed) ? foreignRoutes(config) : [];

/**
 * Build a complete generation: each container's bundle, its unit, the resolved config and the
 * lock, under <stateDir>/generations/<N>/. Identical content to the newest generation reuses it.
 * The caller holds the switch lock.
 */
export async function buildGeneration(
  config: ResolvedConfig,
  runtime: RuntimeChoice,
  o: BuildOptions & { readonly now?: Date; readonly exec?: Exec },
): Promise<BuiltGeneration> {
  const bundles: BuildResult[] = [];
  const services: Record<string, ServiceEntry> = {};
  const units: Record<string, string> = {};
  // /proc/net/route, read once for both.
  const routes = hostRoutesFor(config);
  const alloc = allocateFromRunning(config, routes);
  checkNetworkHost(config, alloc, o.env ?? process.env, routes);
  const netScripts: Record<string, string> = {};
  // The host is read once, before any container is planned.
  const withFacts = { ...o, facts: o.facts ?? readHostFacts(), alloc };
  for (const c of Object.values(config.containers)) {
    if (c.backend !== "oci") {
      const e = await engineService(config, c, o);
      units[c.serviceName] = e.unit;
      services[c.name] = {
        unit: c.serviceName,
        unitHash: sha256(e.unit),
        bundle: "",
        fingerprint: sha256(e.unit),
        image: e.digest,
        autoStart: c.autoStart,
      };
      continue;
    }
    const made = await ociService(config, c, runtime, alloc, withFacts);
    bundles.push(made.bundle);
    Object.assign(units, made.units);
    if (made.netScript !== undefined) netScripts[c.name] = made.netScript;
    services[c.name] = made.entry;
  }
  const existing = listGenerations(config.stateDir);
  const latest =
    existing.length > 0
      ? readManifest(config.stateDir, existing[existing.length - 1] as number)
      : undefined;
  const manifest: GenerationManifest = {
    generation: (latest?.generation ?? 0) + 1,
    created: (o.now ?? new Date()).toISOString(),
    configFile: config.file,
    configHash: sha256(JSON.stringify(config)),
    runtime: runtime.path,
    services,
    ...(config.onFailure !== undefined ? { units: [onFailureTemplate(config.idScope)] } : {}),
  };
  if (latest && sameContent(latest, manifest))
    return {
      generation: latest.generation,
      dir: generationDir(config.stateDir, latest.generation),
      manifest: latest,
      created: false,
      bundles,
    };
  if (o.write === false)
    return { generation: manifest.generation, dir: "", manifest, created: true, bundles };

  const dir = writeGeneration(config, manifest, { units, netScripts, alloc, services });
  return { generation: manifest.generation, dir, manifest, created: true, bundles };
}

/** One container run by the OCI runtime: its bundle, its unit (and health and proxy units), its network script. */
async function ociService(
  config: ResolvedConfig,
  c: ResolvedContainer,
  runtime: RuntimeChoice,
  alloc: NetworkAllocation,
  o: BuildOptions,
): Promise<{
  bundle: BuildResult;
  units: Record<string, string>;
  netScript: string | undefined;
  entry: ServiceEntry;
}> {
  const b = await buildContainer(config, c, o);
  // Rootless, a private network is pasta's, started by the bundle's hook (rootless/pasta.ts).
  const net = config.rootless ? undefined : containerNetwork(c, alloc, config);
  const netScript = net ? renderNetScript(net) : undefined;
  const unit = renderUnit(config, c, {
    runtime: runtime.path,
    bundle: unitBundlePath(config.stateDir, c.name),
    realBundle: b.bundle,
    stopSignal: b.stopSignal,
    ...(net ? { networkScript: unitNetScriptPath(config.stateDir, c.name) } : {}),
    ...(b.overlay ? { overlay: b.overlay } : {}),
  });
  const health = renderHealthUnits(c, runtime.path, config.rootless, containerId(c.name, config));
  const proxies = net ? renderProxyUnits(c, loopback6Ports(c, config), net.links[0].address) : {};
  const extra = { ...health, ...proxies };
  const entry: ServiceEntry = {
    unit: c.serviceName,
    ...(Object.keys(extra).length > 0 ? { extraUnits: Object.keys(extra).sort() } : {}),
    // The network script is part of what the unit runs: a new address restarts the service.
    unitHash: sha256([restartRelevant(unit), ...Object.values(extra), netScript ?? ""].join("\0")),
    bundle: basename(b.bundle),
    fingerprint: b.fingerprint,
    ...(b.image ? { image: b.image } : {}),
    autoStart: c.autoStart,
  };
  return { bundle: b, units: { [c.serviceName]: unit, ...extra }, netScript, entry };
}

/** Write generation N under a temporary name and rename it into place: all of it, or nothing. */
function writeGeneration(
  config: ResolvedConfig,
  manifest: GenerationManifest,
  g: {
    units: Record<string, string>;
    netScripts: Record<string, string>;
    alloc: NetworkAllocation;
    services: Record<string, ServiceEntry>;
  },
): string {
  const { units, netScripts, alloc, services } = g;
  const dir = generationDir(config.stateDir, manifest.generation);
  const tmp = join(generationsDir(config.stateDir), `.tmp-${manifest.generation}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, "units"), { recursive: true });
  mkdirSync(join(tmp, "bundles"));
  mkdirSync(join(tmp, "network"));
  if (config.onFailure !== undefined)
    units[onFailureTemplate(config.idScope)] = renderOnFailureTemplate(config, manifest.generation);
  for (const [unit, text] of Object.entries(units))
    writeFileSync(join(tmp, "units", unit), text, { mode: 0o644 });
  for (const [name, text] of Object.entries(netScripts))
    writeFileSync(join(tmp, "network", `${name}.sh`), text, { mode: 0o755 });
  // The program a unit's start runs to read its environmentFiles (bundle/env-files.ts).
  writeFileSync(join(tmp, START_ENV_FILE), START_ENV_AWK, { mode: 0o644 });
  writeFileSync(join(tmp, ALLOCATION_FILE), `${JSON.stringify(alloc, null, 2)}\n`);
  for (const [name, s] of Object.entries(services))
    if (s.bundle !== "")
      symlinkSync(join("..", "..", "..", "bundles", s.bundle), join(tmp, "bundles", name));
  writeFileSync(join(tmp, "config.json"), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  const lock = lockPathFor(config.file);
  if (existsSync(lock)) copyFileSync(lock, join(tmp, "railyard.lock"));
  writeFileSync(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(tmp, dir);
  return dir;
}

/**
 * A docker/podman service: the image is pinned by the digest railyard.lock holds, and pulled into
 * the engine's own storage now (at switch time), so that the unit never pulls.
 */
async function engineService(
  config: ResolvedConfig,
  c: ResolvedContainer,
  o: BuildOptions & { readonly exec?: Exec },
): Promise<{ unit: string; digest: string }> {
  // "private" without ports, an image's default, is the engine's own bridge (engine.ts).
  if (c.ports.length > 0 || (isPrivateOrNamed(c) && c.network !== "private"))
    throw new BuildError(
      `containers.${c.name}.${c.ports.length > 0 ? "ports" : "network"}: ${c.ports.length > 0 ? "published ports" : `network ${JSON.stringify(c.network)}`} run with backend "oci" only, for now ` +
        `(railyard export carries them). use backend "oci", or network "host"`,
      c.name,
    );
  if (c.healthcheck)
    throw new BuildError(
      `containers.${c.name}.healthcheck: healthchecks run with backend "oci" only, for now ` +
        `(railyard export carries them). use backend "oci", or remove it`,
      c.name,
    );
  const engine = hostProbe(o.env ?? process.env).which(c.backend);
  if (!engine)
    throw new BuildError(
      `containers.${c.name}.backend: ${c.backend} is not installed. install it, or use backend "oci"`,
      c.name,
    );
  if (!c.image || c.image.file)
    throw new BuildError(
      `containers.${c.name}: the ${c.backend} backend runs registry images; imageFile needs backend "oci"`,
      c.name,
    );
  const img = await acquireImage(config, c, {
    env: o.env ?? process.env,
    ...(o.log ? { log: o.log } : {}),
    ...(o.warn ? { warn: o.warn } : {}),
  });
  const ref = parseReference(c.image.ref);
  const pinned = `${ref.domain}/${ref.path}@${img.digest}`;
  if (o.write !== false) {
    const run = o.exec ?? exec;
    const has = await run(
      engine,
      c.backend === "podman" ? ["image", "exists", pinned] : ["image", "inspect", pinned],
    );
    if (has.code !== 0) {
      const insecure = config.registries[ref.domain]?.insecure === true;
      const args = [
        "pull",
        ...(c.backend === "podman" && insecure ? ["--tls-verify=false"] : []),
        pinned,
      ];
      const r = await run(engine, args);
      if (r.code !== 0)
        throw new BuildError(
          `containers.${c.name}: ${c.backend} pull ${pinned} failed: ${r.stderr.trim()}`,
          c.name,
        );
    }
  }
  return {
    unit: renderEngineUnit(config, c, {
      engine,
      image: pinned,
      ...(c.stopSignal ? { stopSignal: c.stopSignal } : {}),
    }),
    digest: img.digest,
  };
}
