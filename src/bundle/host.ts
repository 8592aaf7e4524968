/**
 * What a bundle is planned from that lives on the host or in the image (device nodes, a seccomp
 * profile, env files, mount sources, the image's tree): read at build time, before planning,
 * never while a container starts.
 */
import type { HostFacts } from "../host/facts.js";
import { hostNode } from "../host/devices.js";
import { convertSeccomp, type OciSeccomp } from "./seccomp.js";
import { effectiveCapabilities } from "../model/capabilities.js";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { exec } from "../util/exec.js";
import { posix } from "node:path";
import { mkdirNoFollow, UnsafePathError } from "../util/mkdir-safe.js";
import { jsonProblem } from "../util/parse-error.js";
import { readFileInRoot, readRegularFile, UnreadableFileError } from "../util/read-file.js";
import type { ResolvedContainer, ResolvedMount, RootlessScope } from "../model/types.js";
import { chownMapped } from "../rootless/host.js";
import { BuildError, ConfigError } from "../errors.js";
import { privateResolvConf } from "../network/script.js";
import type { RootfsEntry } from "./rootfs.js";
import type { DeviceInfo } from "./spec.js";

/**
 * `KEY=value` lines, docker --env-file style: no quote processing, `#` comments, blank lines
 * skipped, an `export ` prefix allowed. A bad line is named by its number, never shown: the file
 * may hold secrets. Whitespace is ASCII's, and the value is everything after the first `=`:
 * the awk program that reads these files when a container starts (env-files.ts) parses the
 * same way, byte for byte.
 */
export function parseEnvFile(
  text: string,
): { ok: true; env: Record<string, string> } | { ok: false; line: number } {
  // No prototype: a key named __proto__ is a key like any other.
  const env = Object.create(null) as Record<string, string>;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").replace(/\r$/, "");
    if (/^[ \t\v\f\r]*(#|$)/.test(line)) continue;
    let l = line.replace(/^[ \t\v\f\r]+/, "");
    if (/^export[ \t\v\f\r]+[^= \t\v\f\r]+=/.test(l)) l = l.replace(/^export[ \t\v\f\r]+/, "");
    if (!/^[^= \t\v\f\r]+=/.test(l)) return { ok: false, line: i + 1 };
    const eq = l.indexOf("=");
    env[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return { ok: true, env };
}

/** An environment file larger than this is no list of variables (and would be read whole). */
export const ENV_FILE_MAX = 1 << 20;

/** An environment file's text: a regular file of at most ENV_FILE_MAX bytes (read-file.ts). */
export const readEnvFileText = (f: string): string =>
  readRegularFile(f, ENV_FILE_MAX).toString("utf8");

/**
 * A container's environmentFiles, read and merged in order. A file that is missing or does not
 * parse is a config problem (exit 2), named by its key, the file and the line.
 */
export function readEnvFiles(c: ResolvedContainer, configFile: string): Record<string, string> {
  const env: Record<string, string> = {};
  const problems: { path: string; message: string }[] = [];
  c.environmentFiles.forEach((f, i) => {
    const path = `containers.${c.name}.environmentFiles[${i}]`;
    let text: string;
    try {
      text = readEnvFileText(f);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      problems.push({
        path,
        message:
          e instanceof UnreadableFileError
            ? `${e.message}. expected a regular file of KEY=value lines`
            : `cannot read ${f}${code === "ENOENT" ? ": no such file" : `: ${code ?? (e as Error).message}`}. expected a file of KEY=value lines`,
      });
      return;
    }
    const r = parseEnvFile(text);
    if (r.ok) Object.assign(env, r.env);
    else
      problems.push({
        path,
        message: `${f}:${r.line}: expected KEY=value (the line is not shown: the file may hold secrets)`,
      });
  });
  if (problems.length > 0) throw new ConfigError(configFile, problems);
  return env;
}

/**
 * The host's device nodes a container's `devices` name, by host path. A directory (`/dev/dri`,
 * `/dev/bus/usb`) stands for every character and block node below it, as docker adds them.
 */
export function deviceInfo(c: ResolvedContainer): Record<string, DeviceInfo> {
  const out: Record<string, DeviceInfo> = {};
  for (const d of c.devices) {
    if (statSync(d.hostPath, { throwIfNoEntry: false })?.isDirectory()) {
      const nodes = nodesBelow(d.hostPath);
      if (nodes.length === 0)
        throw new BuildError(
          `containers.${c.name}.devices: ${d.hostPath} is a directory with no device nodes on this host`,
          c.name,
        );
      for (const [path, node] of nodes) out[path] = node;
      continue;
    }
    const node = hostNode(d.hostPath);
    if (node === undefined)
      throw new BuildError(
        `containers.${c.name}.devices: ${d.hostPath} does not exist on this host`,
        c.name,
      );
    if (node === "other" || node.type === "p")
      throw new BuildError(
        `containers.${c.name}.devices: ${d.hostPath} is not a device node`,
        c.name,
      );
    out[d.hostPath] = { ...node, type: node.type };
  }
  return out;
}

/**
 * Prepare bind-mount sources: a missing source directory is created (as docker does), owned by
 * the container's user so that it can write there (rootless: by the host ids that user maps to).
 * As root it is created without following a symlink that root does not own (mkdir-safe.ts).
 * Returns the destinations whose source is a file.
 */
export async function prepareMountSources(
  c: ResolvedContainer,
  mounts: readonly ResolvedMount[],
  owner: { uid: number; gid: number },
  log: (m: string) => void,
  rootless?: RootlessScope,
): Promise<Set<string>> {
  const files = new Set<string>();
  for (const m of mounts) {
    if (m.type !== "bind") continue;
    try {
      if (statSync(m.source).isFile()) files.add(m.destination);
    } catch {
      if (rootless) {
        // As the user: it can create only where it may write anyway.
        mkdirSync(m.source, { recursive: true, mode: 0o755 });
        await chownMapped(m.source, owner, rootless);
      } else
        try {
          mkdirNoFollow(m.source, owner);
        } catch (e) {
          if (!(e instanceof UnsafePathError)) throw e;
          throw new BuildError(`containers.${c.name}: ${m.origin}: ${e.message}`, c.name);
        }
      log(`created ${m.source} for containers.${c.name} (owner ${owner.uid}:${owner.gid})`);
    }
  }
  return files;
}

/** A host program's volume to make, and what it stands for. */
export interface VolumeSeed {
  readonly source: string;
  /** The host directory it stands for; copied when `copy`, else only its owner and mode. */
  readonly from: string;
  readonly copy: boolean;
  readonly owner: { uid: number; gid: number };
  readonly mode: number;
}

/**
 * A host program's new volume (see hostWritableMounts): a copy of the host's directory (cp -a:
 * owners, modes, links), made under a temporary name and renamed into place, so an interrupted
 * build leaves none of it or all. A volume that exists is the program's data: never touched.
 * Rootless, the user cannot give files other owners: the volume starts empty, owned by the
 * mapped owner.
 */
export async function seedVolume(
  s: VolumeSeed,
  container: string,
  rootless: RootlessScope | undefined,
  log: (m: string) => void,
): Promise<void> {
  if (existsSync(s.source)) return;
  mkdirSync(posix.dirname(s.source), { recursive: true, mode: 0o755 });
  const tmp = `${s.source}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const copy = s.copy && !rootless && lstatSync(s.from, { throwIfNoEntry: false })?.isDirectory();
  if (copy) {
    const r = await exec("cp", ["-a", "--", s.from, tmp]);
    if (r.code !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      throw new BuildError(
        `cannot copy ${s.from} into its volume ${s.source}: ${r.stderr.trim()}`,
        container,
      );
    }
  } else {
    mkdirSync(tmp, { mode: s.mode & 0o7777 });
    chmodSync(tmp, s.mode & 0o7777);
    if (rootless) await chownMapped(tmp, s.owner, rootless);
    else chownSync(tmp, s.owner.uid, s.owner.gid);
  }
  renameSync(tmp, s.source);
  log(`created ${s.source} for ${s.from}${copy ? ", a copy of the host's" : ""}`);
}

/**
 * The resolv.conf a container gets: the host's for network "host"; for a network of its own,
 * the host's nameservers that are reachable from there (systemd-resolved's upstream servers
 * when the host only names its stub on 127.0.0.53); none for network "none".
 */
export function containerResolvConf(
  c: ResolvedContainer,
  facts: Pick<HostFacts, "resolvConf" | "resolvedConf">,
): string | undefined {
  if (c.network === "none") return undefined;
  if (c.network === "host") return facts.resolvConf;
  const base = privateResolvConf(facts.resolvConf, facts.resolvedConf);
  return c.dns ? withDns(base, c.dns) : base;
}

/**
 * The config's `dns` over a resolv.conf: its servers replace the nameservers, its search
 * domains the search line, and its options are added. Pure.
 */
export function withDns(text: string, dns: NonNullable<ResolvedContainer["dns"]>): string {
  const keep = text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .filter((l) => !(dns.servers.length > 0 && /^\s*(nameserver\s|#)/.test(l)))
    .filter((l) => !(dns.search.length > 0 && /^\s*(search|domain)\s/.test(l)));
  return `${[
    ...keep,
    ...dns.servers.map((s) => `nameserver ${s}`),
    ...(dns.search.length > 0 ? [`search ${dns.search.join(" ")}`] : []),
    ...(dns.options.length > 0 ? [`options ${dns.options.join(" ")}`] : []),
  ].join("\n")}\n`;
}

/**
 * Read a file of an unpacked rootfs as the container would see it: symlinks on the way are
 * resolved inside the rootfs (an absolute target or `..` never leaves it), and only a regular
 * file of at most 1 MiB is read (an image may hold a FIFO there). Undefined otherwise.
 */
export function readInRoot(root: string, path: string): string | undefined {
  try {
    return readFileInRoot(root, path, 1 << 20).toString("utf8");
  } catch {
    return undefined;
  }
}

/** A container's own seccomp profile (`seccomp` is a path), read and converted for its caps. */
export function customSeccomp(c: ResolvedContainer): { customSeccomp?: OciSeccomp } {
  if (c.seccomp === "default" || c.seccomp === "unconfined") return {};
  const at = `containers.${c.name}.seccomp`;
  let text: string;
  try {
    text = readFileSync(c.seccomp, "utf8");
  } catch (e) {
    throw new BuildError(
      `${at}: cannot read the profile ${c.seccomp}: ${(e as Error).message}`,
      c.name,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new BuildError(`${at}: ${c.seccomp}: ${jsonProblem(e, text)}`, c.name);
  }
  const r = convertSeccomp(json, effectiveCapabilities(c), c.arch);
  if (!r.ok) throw new BuildError(`${at}: ${c.seccomp}: ${r.error}`, c.name);
  return { customSeccomp: r.value };
}

/** Look up a path of an unpacked image directory, never following its last component. */
export function dirLookup(dir: string): (path: string) => RootfsEntry | undefined {
  return (p) => {
    try {
      const st = lstatSync(dir + p);
      if (st.isSymbolicLink()) return { kind: "symlink", target: readlinkSync(dir + p) };
      if (st.isDirectory()) return { kind: "dir", mode: st.mode & 0o7777 };
      return { kind: "data", content: "", mode: st.mode & 0o7777 };
    } catch {
      return undefined;
    }
  };
}

/** Every character and block node below a directory (symlinks not followed), sorted. */
function nodesBelow(dir: string): [string, DeviceInfo][] {
  const out: [string, DeviceInfo][] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : 1,
  )) {
    const path = posix.join(dir, e.name);
    if (e.isDirectory()) out.push(...nodesBelow(path));
    else if (e.isCharacterDevice() || e.isBlockDevice()) {
      const node = hostNode(path);
      if (node !== undefined && node !== "other" && node.type !== "p")
        out.push([path, { ...node, type: node.type }]);
    }
  }
  return out;
}
