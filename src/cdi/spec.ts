/**
 * Container Device Interface (CDI) specs, as GPU and other device vendors write them to
 * /etc/cdi and /var/run/cdi: parsing and checking one document, the registry of every spec
 * found (later directories override earlier ones; two specs of one directory that name the same
 * device make it unusable), and the edits a set of requested devices adds to a container. Pure:
 * reading the files and stat'ing device nodes happen in cdi/host.ts.
 *
 * Semantics follow the CDI specification (tags.cncf.io/container-device-interface, SPEC.md):
 * a spec's own containerEdits apply once when any of its devices is requested, each device's
 * edits after them, in the order the devices are requested.
 */

import { isRecord } from "../util/record.js";
import { checkCdiName, DEVICE_NAME } from "../model/cdi.js";

export const HOOK_NAMES = [
  "prestart",
  "createRuntime",
  "createContainer",
  "startContainer",
  "poststart",
  "poststop",
] as const;
export type CdiHookName = (typeof HOOK_NAMES)[number];

export interface CdiDeviceNode {
  /** Where it appears in the container. */
  readonly path: string;
  /** The node on the host whose numbers it takes (defaults to `path`). */
  readonly hostPath: string;
  readonly type?: "b" | "c" | "u" | "p";
  readonly major?: number;
  readonly minor?: number;
  readonly fileMode?: number;
  /** cgroup access: letters of "rwm", or "" for none. */
  readonly permissions: string;
  readonly uid?: number;
  readonly gid?: number;
}

export interface CdiMount {
  readonly hostPath: string;
  readonly containerPath: string;
  readonly type?: string;
  readonly options: readonly string[];
}

export interface CdiHook {
  readonly hookName: CdiHookName;
  readonly path: string;
  readonly args?: readonly string[];
  readonly env?: readonly string[];
  readonly timeout?: number;
}

export interface CdiEdits {
  readonly env: readonly string[];
  readonly deviceNodes: readonly CdiDeviceNode[];
  readonly mounts: readonly CdiMount[];
  readonly hooks: readonly CdiHook[];
  readonly additionalGids: readonly number[];
  /** Edits railyard does not apply (intelRdt, netDevices): a device that has them is refused. */
  readonly unsupported: readonly string[];
}

export interface CdiSpec {
  readonly file: string;
  /** The index of its directory: a device in a later directory overrides an earlier one. */
  readonly priority: number;
  /** "vendor/class". */
  readonly kind: string;
  readonly edits: CdiEdits;
  /** Device name (unqualified) -> its own edits, in file order. */
  readonly devices: ReadonlyMap<string, CdiEdits>;
}

export interface CdiProblem {
  readonly file: string;
  readonly message: string;
}

export interface CdiRegistry {
  readonly dirs: readonly string[];
  /** Qualified name ("vendor/class=name") -> the spec that defines it. */
  readonly devices: ReadonlyMap<string, CdiSpec>;
  /** Qualified names defined by two specs of the same directory, with the files. */
  readonly conflicts: ReadonlyMap<string, readonly string[]>;
  /** Specs that could not be read or are not valid; their devices are absent. */
  readonly problems: readonly CdiProblem[];
}

type Path = readonly (string | number)[];
const at = (p: Path) =>
  p.reduce<string>(
    (s, k) => (typeof k === "number" ? `${s}[${k}]` : s === "" ? k : `${s}.${k}`),
    "",
  );

/** A checker that collects problems with their key paths. */
class Reader {
  readonly problems: string[] = [];
  fail(p: Path, message: string): undefined {
    this.problems.push(`${at(p)}: ${message}`);
    return undefined;
  }
  string(x: unknown, p: Path): string | undefined {
    return typeof x === "string" ? x : this.fail(p, "must be a string");
  }
  absolute(x: unknown, p: Path): string | undefined {
    const s = this.string(x, p);
    if (s === undefined) return undefined;
    if (!s.startsWith("/") || s.includes("\0") || s.split("/").includes(".."))
      return this.fail(p, `${JSON.stringify(s)} must be an absolute path without ".."`);
    return s;
  }
  strings(x: unknown, p: Path): string[] {
    if (x === undefined) return [];
    if (!Array.isArray(x)) return this.fail(p, "must be a list of strings") ?? [];
    return x.flatMap((s, i) => this.string(s, [...p, i]) ?? []);
  }
  env(x: unknown, p: Path): string[] {
    return this.strings(x, p).filter(
      (e, i) =>
        (/^[^=\0]+=[^\0]*$/.test(e) ? true : this.fail([...p, i], 'must be "NAME=value"')) ?? false,
    );
  }
  uint(x: unknown, p: Path, max = 0xffffffff): number | undefined {
    if (x === undefined) return undefined;
    return Number.isSafeInteger(x) && (x as number) >= 0 && (x as number) <= max
      ? (x as number)
      : this.fail(p, `must be a whole number from 0 to ${max}`);
  }
}

function readEdits(r: Reader, x: unknown, p: Path): CdiEdits {
  const empty: CdiEdits = {
    env: [],
    deviceNodes: [],
    mounts: [],
    hooks: [],
    additionalGids: [],
    unsupported: [],
  };
  if (x === undefined || x === null) return empty;
  if (!isRecord(x)) return r.fail(p, "must be an object") ?? empty;
  const list = (k: string): unknown[] => {
    const v = x[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) return r.fail([...p, k], "must be a list") ?? [];
    return v;
  };
  const env = r.env(x["env"], [...p, "env"]);
  const deviceNodes = list("deviceNodes").flatMap((d, i) =>
    readDeviceNode(r, d, [...p, "deviceNodes", i]),
  );
  const mounts = list("mounts").flatMap((m, i): CdiMount[] => {
    const q = [...p, "mounts", i];
    if (!isRecord(m)) return r.fail(q, "must be an object") ?? [];
    const hostPath = r.absolute(m["hostPath"], [...q, "hostPath"]);
    const containerPath = r.absolute(m["containerPath"], [...q, "containerPath"]);
    const type =
      m["type"] === undefined || m["type"] === "" ? undefined : r.string(m["type"], [...q, "type"]);
    const options = r.strings(m["options"], [...q, "options"]);
    if (hostPath === undefined || containerPath === undefined) return [];
    return [{ hostPath, containerPath, ...(type !== undefined ? { type } : {}), options }];
  });
  const hooks = list("hooks").flatMap((h, i) => readHook(r, h, [...p, "hooks", i]));
  const additionalGids = list("additionalGids").flatMap(
    (g, i) => r.uint(g, [...p, "additionalGids", i]) ?? [],
  );
  const unsupported = ["intelRdt", "netDevices"].filter(
    (k) => x[k] !== undefined && x[k] !== null && !(Array.isArray(x[k]) && x[k].length === 0),
  );
  return {
    env,
    deviceNodes,
    mounts,
    hooks,
    additionalGids: additionalGids.filter((g) => g !== 0),
    unsupported,
  };
}

/** One device node of a spec's edits, or none (its problems reported). */
function readDeviceNode(r: Reader, d: unknown, q: Path): CdiDeviceNode[] {
  if (!isRecord(d)) return r.fail(q, "must be an object") ?? [];
  const path = r.absolute(d["path"], [...q, "path"]);
  const hostPath =
    d["hostPath"] === undefined ? path : r.absolute(d["hostPath"], [...q, "hostPath"]);
  const type = d["type"] === undefined || d["type"] === "" ? undefined : d["type"];
  if (type !== undefined && !["b", "c", "u", "p"].includes(type as string))
    r.fail([...q, "type"], `${JSON.stringify(type)} is not a device type. expected b, c, u or p`);
  let permissions = "rwm";
  if (d["permissions"] !== undefined && d["permissions"] !== "") {
    const s = r.string(d["permissions"], [...q, "permissions"]) ?? "rwm";
    if (s === "none") permissions = "";
    else if (/^(?!.*(.).*\1)[rwm]{1,3}$/.test(s)) permissions = s;
    else r.fail([...q, "permissions"], `${JSON.stringify(s)} must be letters of "rwm" or "none"`);
  }
  const major = r.uint(d["major"], [...q, "major"], 0x7fffffff);
  const minor = r.uint(d["minor"], [...q, "minor"], 0x7fffffff);
  const fileMode = r.uint(d["fileMode"], [...q, "fileMode"], 0o777);
  const uid = r.uint(d["uid"], [...q, "uid"]);
  const gid = r.uint(d["gid"], [...q, "gid"]);
  if (path === undefined || hostPath === undefined) return [];
  return [
    {
      path,
      hostPath,
      ...(type !== undefined ? { type: type as CdiDeviceNode["type"] & string } : {}),
      ...(major !== undefined ? { major } : {}),
      ...(minor !== undefined ? { minor } : {}),
      ...(fileMode !== undefined ? { fileMode } : {}),
      permissions,
      ...(uid !== undefined ? { uid } : {}),
      ...(gid !== undefined ? { gid } : {}),
    },
  ];
}

/** One OCI hook of a spec's edits, or none (its problems reported). */
function readHook(r: Reader, h: unknown, q: Path): CdiHook[] {
  if (!isRecord(h)) return r.fail(q, "must be an object") ?? [];
  const hookName = h["hookName"];
  if (!HOOK_NAMES.includes(hookName as CdiHookName))
    r.fail(
      [...q, "hookName"],
      `${JSON.stringify(hookName)} is not an OCI hook. expected one of ${HOOK_NAMES.join(", ")}`,
    );
  const path = r.absolute(h["path"], [...q, "path"]);
  const args = h["args"] === undefined ? undefined : r.strings(h["args"], [...q, "args"]);
  const env = h["env"] === undefined ? undefined : r.env(h["env"], [...q, "env"]);
  let timeout: number | undefined;
  if (h["timeout"] !== undefined && h["timeout"] !== null) {
    timeout = r.uint(h["timeout"], [...q, "timeout"]);
    if (timeout === 0) r.fail([...q, "timeout"], "must be more than 0 seconds");
  }
  if (path === undefined || !HOOK_NAMES.includes(hookName as CdiHookName)) return [];
  return [
    {
      hookName: hookName as CdiHookName,
      path,
      ...(args ? { args } : {}),
      ...(env ? { env } : {}),
      ...(timeout ? { timeout } : {}),
    },
  ];
}

/** The CDI versions whose documents this reader understands (0.3.0 to 1.x). */
function checkVersion(v: string): string | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(v);
  if (!m) return `${JSON.stringify(v)} is not a version (expected e.g. "0.6.0")`;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major > 1) return `${v} is newer than the CDI versions railyard reads (0.3.0 to 1.x)`;
  if (major === 0 && minor < 3)
    return `${v} predates the CDI versions railyard reads (0.3.0 to 1.x)`;
  return undefined;
}

/** One spec document (parsed JSON or YAML) checked, or every problem with its key path. */
export function parseCdiSpec(
  doc: unknown,
  file: string,
  priority: number,
): { spec: CdiSpec } | { problems: string[] } {
  const r = new Reader();
  if (!isRecord(doc)) return { problems: ["the document must be an object"] };
  const version = r.string(doc["cdiVersion"], ["cdiVersion"]);
  if (version !== undefined) {
    const bad = checkVersion(version);
    if (bad) r.fail(["cdiVersion"], bad);
  }
  const kind = r.string(doc["kind"], ["kind"]);
  if (kind !== undefined && checkCdiName(`${kind}=x`) !== undefined)
    r.fail(["kind"], `${JSON.stringify(kind)} must be "vendor.com/class"`);
  const edits = readEdits(r, doc["containerEdits"], ["containerEdits"]);
  const devices = new Map<string, CdiEdits>();
  const names = new Set<string>();
  const list = doc["devices"];
  if (!Array.isArray(list) || list.length === 0)
    r.fail(["devices"], "must be a list of at least one device");
  else
    list.forEach((d, i) => {
      if (!isRecord(d)) return r.fail(["devices", i], "must be an object");
      const name = r.string(d["name"], ["devices", i, "name"]);
      const before = r.problems.length;
      const e = readEdits(r, d["containerEdits"], ["devices", i, "containerEdits"]);
      if (name === undefined) return undefined;
      if (!DEVICE_NAME.test(name))
        return r.fail(["devices", i, "name"], `${JSON.stringify(name)} is not a device name`);
      if (names.has(name))
        return r.fail(["devices", i, "name"], `${JSON.stringify(name)} is named twice`);
      names.add(name);
      // (Only when its edits were read: one that did not parse is reported as such.)
      const empty =
        r.problems.length === before &&
        e.env.length +
          e.deviceNodes.length +
          e.mounts.length +
          e.hooks.length +
          e.additionalGids.length ===
          0 &&
        e.unsupported.length === 0;
      if (empty) return r.fail(["devices", i, "containerEdits"], "a device must edit something");
      devices.set(name, e);
      return undefined;
    });
  if (r.problems.length > 0 || kind === undefined) return { problems: r.problems };
  return { spec: { file, priority, kind, edits, devices } };
}

/**
 * Every device of the specs found. Specs come in directory order, each directory's files in
 * name order; a device named again by a later directory is overridden, by the same one is a
 * conflict (as the CDI reference implementation resolves them).
 */
export function cdiRegistry(
  dirs: readonly string[],
  specs: readonly CdiSpec[],
  problems: readonly CdiProblem[],
): CdiRegistry {
  const devices = new Map<string, CdiSpec>();
  const conflicts = new Map<string, string[]>();
  for (const s of specs)
    for (const name of s.devices.keys()) {
      const q = `${s.kind}=${name}`;
      const other = devices.get(q);
      if (other && other.priority === s.priority)
        conflicts.set(q, [...(conflicts.get(q) ?? [other.file]), s.file]);
      else if (!other || other.priority < s.priority) devices.set(q, s);
    }
  for (const q of conflicts.keys()) devices.delete(q);
  return { dirs, devices, conflicts, problems };
}

/** The names a registry offers, sorted. */
export const cdiNames = (r: CdiRegistry): string[] => [...r.devices.keys()].sort();

export interface CdiResolution {
  /** Every edit of the requested devices, in the order they apply. */
  readonly edits: CdiEdits;
  /** Each requested device's spec file. */
  readonly files: ReadonlyMap<string, string>;
}

/**
 * The edits that requested devices make, merged: each spec's own edits once (before its first
 * device's), then each device's. Unknown and conflicting names come back as `missing` with the
 * reason.
 */
export function cdiResolve(
  r: CdiRegistry,
  names: readonly string[],
): CdiResolution | { missing: { name: string; why: string }[] } {
  const missing: { name: string; why: string }[] = [];
  const parts: CdiEdits[] = [];
  const files = new Map<string, string>();
  const seen = new Set<CdiSpec>();
  for (const name of names) {
    const spec = r.devices.get(name);
    const conflict = r.conflicts.get(name);
    if (conflict) {
      missing.push({ name, why: `it is defined by both ${conflict.join(" and ")}` });
      continue;
    }
    if (!spec) {
      missing.push({ name, why: "no CDI spec defines it" });
      continue;
    }
    if (!seen.has(spec)) {
      seen.add(spec);
      parts.push(spec.edits);
    }
    parts.push(spec.devices.get(name.slice(name.indexOf("=") + 1)) as CdiEdits);
    files.set(name, spec.file);
  }
  if (missing.length > 0) return { missing };
  return {
    files,
    edits: {
      env: parts.flatMap((e) => e.env),
      deviceNodes: lastBy(
        parts.flatMap((e) => e.deviceNodes),
        (d) => d.path,
      ),
      mounts: lastBy(
        parts.flatMap((e) => e.mounts),
        (m) => m.containerPath,
      ),
      hooks: parts.flatMap((e) => e.hooks),
      additionalGids: [...new Set(parts.flatMap((e) => e.additionalGids))],
      unsupported: [...new Set(parts.flatMap((e) => e.unsupported))],
    },
  };
}

/** Later entries replace earlier ones with the same key, as a runtime applying edits in turn. */
function lastBy<T>(xs: readonly T[], key: (x: T) => string): T[] {
  const out = new Map<string, T>();
  for (const x of xs) {
    out.delete(key(x));
    out.set(key(x), x);
  }
  return [...out.values()];
}
