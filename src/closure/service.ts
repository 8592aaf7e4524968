/**
 * What the host says about running one of its programs as its Debian service (see
 * model/host-service.ts): the packages it belongs to, the unit they ship whose ExecStart runs it
 * (with the admin's overrides and drop-ins, as systemd reads it), the directories those packages
 * own where a service writes, and the files their scripts made that no package owns. Pure over
 * the FsView.
 */
import { posix } from "node:path";
import { ClosureError } from "../errors.js";
import type {
  HostService,
  HostServiceQuery,
  HostServiceReader,
  HostWritable,
} from "../model/host-service.js";
import { DpkgDb, type DpkgPackage } from "./dpkg.js";
import { DEFAULT_PATH } from "./index.js";
import type { FsView } from "./fs.js";
import {
  capabilityList,
  execArgv,
  parseUnitFile,
  unitEnvironment,
  unitHas,
  unitValue,
  unitValues,
  type UnitFile,
} from "./unit-file.js";

/** Where systemd looks for units, highest priority first. */
const UNIT_DIRS = [
  "/etc/systemd/system",
  "/run/systemd/system",
  "/lib/systemd/system",
  "/usr/lib/systemd/system",
];

/** Where a service writes, and how railyard gives it each: volumes keep, tmpfs starts empty. */
const WRITABLE_ROOTS: readonly [string, HostWritable["kind"]][] = [
  ["/var/lib/", "volume"],
  ["/var/log/", "volume"],
  ["/var/cache/", "tmpfs"],
  ["/run/", "tmpfs"],
];
const RUN = (unit: string): HostWritable => ({
  path: "/run",
  kind: "tmpfs",
  mode: 0o755,
  uid: 0,
  gid: 0,
  seed: false,
  from: `${unit}: a service writes its pid file and sockets under /run`,
});
/** A volume starts as a copy of the host's directory, but for logs: they start empty, as a fresh install's do. */
const seeded = (kind: HostWritable["kind"], path: string) =>
  kind === "volume" && !path.startsWith("/var/log/");
const kindOf = (p: string) => WRITABLE_ROOTS.find(([root]) => p.startsWith(root))?.[1];

/** Paths a package script names that are the system's, not files to carry into a container. */
const NOT_MADE =
  /^\/(proc|sys|dev|run|tmp|var\/run|var\/tmp|var\/lib\/dpkg|var\/log|var\/cache|usr\/share\/doc)\//;

/**
 * Another init system's files: runit's service links and log directories (dnsmasq ships them
 * beside its systemd unit). A container is supervised by systemd, through railyard.
 */
const OTHER_INIT = /^\/(etc\/runit|etc\/sv|var\/log\/runit|etc\/init\.d)(\/|$)/;

/** A reader for many containers: dpkg's database is read once, at the first question. */
export function hostServiceReader(fs: FsView, arch: string): HostServiceReader {
  let db: DpkgDb | undefined;
  return (q) => readHostService(fs, (db ??= new DpkgDb(fs, arch)), q);
}

export function readHostService(
  fs: FsView,
  db: DpkgDb,
  q: HostServiceQuery,
): HostService | undefined {
  const named = namedUnit(fs, q.service);
  const arg0 = named?.argv?.[0] ?? q.program;
  if (arg0 === undefined) return undefined;
  const program = findOnPath(fs, arg0);
  const owner = program === undefined ? undefined : db.owner(realPath(fs, program));
  if (!owner || program === undefined) {
    if (named)
      throw new ClosureError(
        `${q.service} runs ${arg0}, which no installed package owns, so railyard cannot tell what it needs`,
        q.service as string,
      );
    return undefined;
  }
  const { packages, unitFile } = packagesOf(fs, db, owner, program, named?.unit);
  const fromUnit = unitFile ? unitSettings(fs, unitFile, named?.argv) : undefined;
  const writable = writableOf(fs, db, packages, unitFile, fromUnit);
  return {
    program,
    packages: packages.map((p) => p.name).sort(),
    ...(unitFile ? { unit: unitFile.path } : {}),
    ...(fromUnit ?? { ambientCapabilities: [], environment: {}, environmentFiles: [] }),
    writable,
    made: madeFiles(fs, db, packages, writable),
    ...(unitFile ? {} : stateOwnerOf(writable)),
  };
}

/** `service: NAME`'s unit and its ExecStart, or undefined without one; an error when missing. */
function namedUnit(
  fs: FsView,
  service: string | undefined,
): { unit: LoadedUnit; argv: string[] | undefined } | undefined {
  if (service === undefined) return undefined;
  const unit = loadUnit(fs, service);
  if (!unit)
    throw new ClosureError(
      `no unit ${service} on this host (looked in ${UNIT_DIRS.join(", ")})`,
      service,
    );
  const env = unitEnvironment(unitValues(unit.unit, "Service", "Environment"));
  return { unit, argv: execStartOf(unit.unit, env, service) };
}

/**
 * The program's packages: its own, those of its source, the unit's, and a dependency that keeps
 * data of its own (postgresql-15's postgresql-common, which owns /var/lib/postgresql); and the
 * unit that runs it (else the packages' only unit).
 */
function packagesOf(
  fs: FsView,
  db: DpkgDb,
  owner: DpkgPackage,
  program: string,
  named: LoadedUnit | undefined,
): { packages: DpkgPackage[]; unitFile: LoadedUnit | undefined } {
  const own = new Map<string, DpkgPackage>();
  for (const p of [owner, ...db.fromSource(owner.source)]) own.set(p.name, p);
  const unitFile =
    named ?? findUnit(fs, db, [...own.values()], program) ?? onlyUnit(fs, db, [...own.values()]);
  if (unitFile?.pkg) own.set(unitFile.pkg.name, unitFile.pkg);
  for (const p of [...own.values()])
    for (const d of db.dependencies(p))
      if (!own.has(d.name) && keepsData(fs, db, d)) own.set(d.name, d);
  return { packages: [...own.values()], unitFile };
}

type UnitSettings = Omit<HostService, "program" | "packages" | "unit" | "writable" | "made">;

/** What the unit says of running the program: its command, user, signal, capabilities, environment. */
function unitSettings(fs: FsView, f: LoadedUnit, namedArgv: string[] | undefined): UnitSettings {
  const u = f.unit;
  const environment = unitEnvironment(unitValues(u, "Service", "Environment"));
  const execStart = namedArgv ?? (f.runs ? execStartOf(u, environment, f.name) : undefined);
  const foreground = execStart ? toForeground(execStart) : undefined;
  const type = unitValue(u, "Service", "Type");
  const user = unitValue(u, "Service", "User");
  const group = unitValue(u, "Service", "Group");
  const stopSignal = stopSignalOf(u, f.name);
  const bounding = unitHas(u, "Service", "CapabilityBoundingSet")
    ? capabilityList(unitValues(u, "Service", "CapabilityBoundingSet"))
    : undefined;
  return {
    ...(execStart ? { execStart } : {}),
    ...(foreground ? { foreground } : {}),
    ...(type !== undefined ? { type } : {}),
    ...(user ? { user } : {}),
    ...(group ? { group } : {}),
    ...(stopSignal ? { stopSignal } : {}),
    ambientCapabilities: capabilityList(unitValues(u, "Service", "AmbientCapabilities")).caps,
    ...(bounding ? { boundingSet: bounding.inverted ? [] : bounding.caps } : {}),
    environment,
    environmentFiles: unitValues(u, "Service", "EnvironmentFile").flatMap((e) => {
      const optional = e.startsWith("-");
      const path = optional ? e.slice(1) : e;
      return optional && !fs.lstat(path) ? [] : [path];
    }),
  };
}

/** Where it writes, each path once (the unit's word first); a volume inside another is that one's. */
function writableOf(
  fs: FsView,
  db: DpkgDb,
  packages: readonly DpkgPackage[],
  f: LoadedUnit | undefined,
  s: UnitSettings | undefined,
): HostWritable[] {
  const all = [
    // A service writes its pid file and sockets under /run (nginx's /run/nginx.pid).
    ...(f ? [RUN(f.name), ...unitDirectories(f.unit, f.name, fs, s?.user, s?.group)] : []),
    ...tmpfilesDirectories(fs, db, packages),
    ...packageDirectories(fs, db, packages),
  ];
  const unique = new Map<string, HostWritable>();
  for (const w of all) if (!unique.has(w.path)) unique.set(w.path, w);
  // A tmpfs inside a tmpfs keeps its own owner and mode.
  return [...unique.values()]
    .filter(
      (w) =>
        w.kind !== "volume" ||
        ![...unique.values()].some((o) => o.kind === "volume" && w.path.startsWith(`${o.path}/`)),
    )
    .sort((a, b) => a.path.localeCompare(b.path));
}

interface LoadedUnit {
  readonly name: string;
  readonly path: string;
  readonly unit: UnitFile;
  readonly pkg?: DpkgPackage;
  /** Whether its ExecStart runs the program (a package's only unit may run a wrapper script). */
  readonly runs: boolean;
}

/** A unit by name as systemd loads it: the first file found, then its drop-ins in name order. */
function loadUnit(fs: FsView, name: string): LoadedUnit | undefined {
  const full = name.includes(".") ? name : `${name}.service`;
  if (!/^[\w:.\\-]+\.service$/.test(full) || full.includes("@"))
    throw new ClosureError(
      `${JSON.stringify(name)} is not a service unit railyard can read (a name such as "nginx.service"; not a template)`,
      name,
    );
  const path = UNIT_DIRS.map((d) => `${d}/${full}`).find((p) => fs.lstat(p) !== undefined);
  if (path === undefined) return undefined;
  const text = readUnitText(fs, path, full);
  const dropIns = new Map<string, string>();
  for (const d of [...UNIT_DIRS].reverse()) {
    const dir = `${d}/${full}.d`;
    if (fs.lstat(dir)?.kind !== "dir") continue;
    for (const f of fs.readdir(dir)) if (f.endsWith(".conf")) dropIns.set(f, `${dir}/${f}`);
  }
  const drops = [...dropIns.keys()]
    .sort()
    .map((f) => readUnitText(fs, dropIns.get(f) as string, full));
  return { name: full, path, unit: parseUnitFile(text, ...drops), runs: true };
}

function readUnitText(fs: FsView, path: string, name: string): string {
  const real = realPath(fs, path);
  const text = real === "/dev/null" ? "" : fs.readText(real);
  if (text === undefined) throw new ClosureError(`cannot read ${path}, the unit ${name}`, name);
  return text;
}

/** The unit of `packages` whose ExecStart runs `program`; the one named after it when several do. */
function findUnit(
  fs: FsView,
  db: DpkgDb,
  packages: readonly DpkgPackage[],
  program: string,
): LoadedUnit | undefined {
  const real = realPath(fs, program);
  const found: LoadedUnit[] = [];
  for (const p of packages)
    for (const f of db.files(p)) {
      const m = /^\/(usr\/)?lib\/systemd\/system\/([^/@]+\.service)$/.exec(f);
      if (!m) continue;
      const u = loadUnit(fs, m[2] as string);
      if (!u) continue;
      const argv = execStartOf(
        u.unit,
        unitEnvironment(unitValues(u.unit, "Service", "Environment")),
        u.name,
      );
      const arg0 = argv?.[0];
      if (arg0 !== undefined && realPath(fs, findOnPath(fs, arg0) ?? arg0) === real)
        found.push({ ...u, pkg: p });
    }
  const base = posix.basename(program);
  return (
    found.find((u) => u.name === `${base}.service`) ??
    found.sort((a, b) => a.name.localeCompare(b.name))[0]
  );
}

/**
 * The one service unit the packages ship, when none runs the program itself (dnsmasq's runs a
 * helper script that execs it): how the package runs it as a service, but for its ExecStart.
 */
function onlyUnit(
  fs: FsView,
  db: DpkgDb,
  packages: readonly DpkgPackage[],
): LoadedUnit | undefined {
  const units = packages.flatMap((p) =>
    db.files(p).flatMap((f) => {
      const m = /^\/(usr\/)?lib\/systemd\/system\/([^/@]+\.service)$/.exec(f);
      return m ? [{ name: m[2] as string, pkg: p }] : [];
    }),
  );
  if (units.length !== 1) return undefined;
  const [only] = units as [{ name: string; pkg: DpkgPackage }];
  const u = loadUnit(fs, only.name);
  return u ? { ...u, pkg: only.pkg, runs: false } : undefined;
}

/** The unit's (last) ExecStart as argv; a variable its Environment= lacks is an error. */
function execStartOf(
  u: UnitFile,
  env: Readonly<Record<string, string>>,
  name: string,
): string[] | undefined {
  const line = unitValue(u, "Service", "ExecStart");
  if (line === undefined) return undefined;
  const r = execArgv(line, env);
  if (!r) throw new ClosureError(`${name} has an ExecStart= railyard cannot split: ${line}`, name);
  if (r.missing.length > 0)
    throw new ClosureError(
      `${name}'s ExecStart uses ${r.missing.map((m) => `$${m}`).join(", ")}, which its Environment= does not set (an EnvironmentFile's values are read only at start). give the container args`,
      name,
    );
  return r.argv;
}

/** KillSignal=, else the signal ExecStop sends (start-stop-daemon --retry SIG/N or --signal, kill -SIG). */
function stopSignalOf(u: UnitFile, name: string): { signal: string; from: string } | undefined {
  const kill = unitValue(u, "Service", "KillSignal");
  if (kill) return { signal: normaliseSignal(kill), from: `${name} KillSignal=` };
  for (const line of unitValues(u, "Service", "ExecStop")) {
    const m =
      /--retry[= ](?:-?)([A-Z0-9]+)\//.exec(line) ??
      /--signal[= ]([A-Z0-9]+)/.exec(line) ??
      /\bkill\s+(?:-s\s+)?-?([A-Z][A-Z0-9]+)\s+\$MAINPID/.exec(line);
    if (m) return { signal: normaliseSignal(m[1] as string), from: `${name} ExecStop=` };
  }
  return undefined;
}
const normaliseSignal = (s: string) => (s.startsWith("SIG") ? s : `SIG${s}`);

/** RuntimeDirectory=, StateDirectory=, LogsDirectory=, CacheDirectory= and ReadWritePaths=. */
function unitDirectories(
  u: UnitFile,
  name: string,
  fs: FsView,
  user: string | undefined,
  group: string | undefined,
): HostWritable[] {
  const out: HostWritable[] = [];
  const owner = { ...(user ? { user } : {}), ...(group ? { group } : user ? { group: user } : {}) };
  for (const [key, root, kind] of [
    ["RuntimeDirectory", "/run", "tmpfs"],
    ["StateDirectory", "/var/lib", "volume"],
    ["LogsDirectory", "/var/log", "volume"],
    ["CacheDirectory", "/var/cache", "tmpfs"],
  ] as const) {
    const modeText = unitValue(u, "Service", `${key}Mode`);
    const mode =
      modeText !== undefined && /^[0-7]{3,4}$/.test(modeText) ? parseInt(modeText, 8) : 0o755;
    for (const v of unitValues(u, "Service", key))
      for (const d of v.split(/\s+/).filter(Boolean)) {
        const rel = d.split(":")[0] as string;
        if (rel.split("/").some((s) => s === ".." || s === "")) continue;
        out.push({
          path: `${root}/${rel}`,
          kind,
          mode,
          ...owner,
          seed: seeded(kind, `${root}/`),
          from: `${name} ${key}=`,
        });
      }
  }
  // The directory of its PIDFile= under /run, which its start script would make (dnsmasq's).
  const pid = unitValue(u, "Service", "PIDFile")?.replace(/^\/var\/run\//, "/run/");
  const pidDir = pid === undefined ? undefined : posix.dirname(pid);
  if (pidDir !== undefined && pidDir.startsWith("/run/"))
    out.push({
      path: pidDir,
      kind: "tmpfs",
      mode: 0o755,
      ...owner,
      seed: false,
      from: `${name} PIDFile=`,
    });
  for (const v of unitValues(u, "Service", "ReadWritePaths"))
    for (const w of v.split(/\s+/).filter(Boolean)) {
      const path = w.replace(/^[-+]+/, "").replace(/^\/var\/run\//, "/run/");
      const k = kindOf(`${path}/`);
      const st = fs.lstat(path);
      if (!k || path.split("/").length < 3 || (st === undefined && w.startsWith("-"))) continue;
      out.push({
        path,
        kind: k,
        mode: st?.mode ?? 0o755,
        ...(st ? { uid: st.uid, gid: st.gid } : owner),
        seed: seeded(k, path),
        from: `${name} ReadWritePaths=`,
      });
    }
  return out;
}

/** The one non-root owner of every /var/lib directory the packages keep, if there is one. */
function stateOwnerOf(writable: readonly HostWritable[]): Pick<HostService, "stateOwner"> {
  const state = writable.filter((w) => w.path.startsWith("/var/lib/") && w.uid !== undefined);
  const [first] = state;
  if (!first || first.uid === 0 || !state.every((w) => w.uid === first.uid && w.gid === first.gid))
    return {};
  return {
    stateOwner: {
      uid: first.uid as number,
      gid: first.gid as number,
      from: `no unit runs it, and its packages keep its state in ${state.map((w) => w.path).join(", ")}, owned by ${first.uid}:${first.gid}`,
    },
  };
}

/** Whether a package owns a directory of state or logs that no other package lists. */
const keepsData = (fs: FsView, db: DpkgDb, p: DpkgPackage) =>
  packageDirectories(fs, db, [p]).some((w) => w.kind === "volume");

/**
 * tmpfiles.d lines of the packages that make a directory under /run or /var at boot
 * (`d /run/postgresql 2775 postgres postgres`): one per line, with its mode and owner.
 */
function tmpfilesDirectories(
  fs: FsView,
  db: DpkgDb,
  packages: readonly DpkgPackage[],
): HostWritable[] {
  const out: HostWritable[] = [];
  for (const p of packages)
    for (const f of db.files(p)) {
      if (!/^\/(usr\/)?lib\/tmpfiles\.d\/[^/]+\.conf$/.test(f)) continue;
      for (const line of (fs.readText(f) ?? "").split("\n")) {
        const [type, raw, mode, user, group] = line.trim().split(/\s+/);
        if (type !== "d" && type !== "D") continue;
        const path = (raw ?? "").replace(/^\/var\/run\//, "/run/");
        const kind = kindOf(path);
        if (!kind || path.includes("%") || path.split("/").includes("..")) continue;
        out.push({
          path,
          kind,
          mode: mode !== undefined && /^[0-7]{3,4}$/.test(mode) ? parseInt(mode, 8) : 0o755,
          ...(user && user !== "-" ? { user } : {}),
          ...(group && group !== "-" ? { group } : {}),
          seed: seeded(kind, path),
          from: `${p.name}'s ${posix.basename(f)}`,
        });
      }
    }
  return out;
}

/** Directories the packages own below /var/lib, /var/log, /var/cache and /run, with the host's owner. */
function packageDirectories(
  fs: FsView,
  db: DpkgDb,
  packages: readonly DpkgPackage[],
): HostWritable[] {
  const out: HostWritable[] = [];
  const names = new Set(packages.map((p) => p.name));
  for (const p of packages)
    for (const f of db.files(p)) {
      const path = f.replace(/^\/var\/run\//, "/run/");
      // Only paths under the writable roots are looked at on disk: a library's thousand files are not.
      const kind = kindOf(path);
      if (!kind || OTHER_INIT.test(path)) continue;
      const st = fs.lstat(path);
      if (st?.kind !== "dir") continue;
      // A directory other packages list too (/var/lib/misc) is not this program's to keep.
      if (db.ownersOf(f).some((o) => !names.has(o.name))) continue;
      out.push({
        path,
        kind,
        mode: st.mode,
        uid: st.uid,
        gid: st.gid,
        seed: seeded(kind, path),
        from: `${p.name} owns ${path}`,
      });
    }
  return out;
}

/**
 * Files and links no package owns that the packages' scripts made: in a directory under /etc
 * that only these packages own (nginx's sites-enabled/default), and those a postinst names
 * (nginx's /var/www/html/index.nginx-debian.html).
 */
function madeFiles(
  fs: FsView,
  db: DpkgDb,
  packages: readonly DpkgPackage[],
  writable: readonly HostWritable[],
): { path: string; from: string }[] {
  const ours = new Set(packages.map((p) => p.name));
  const out = new Map<string, string>();
  const unowned = (path: string, dirs = false) => {
    const st = fs.lstat(path);
    const kind = st?.kind === "file" || st?.kind === "symlink" || (dirs && st?.kind === "dir");
    return kind && db.ownersOf(path).length === 0;
  };
  for (const p of packages)
    for (const dir of db.files(p)) {
      if (!dir.startsWith("/etc/") || OTHER_INIT.test(dir) || fs.lstat(dir)?.kind !== "dir")
        continue;
      if (db.ownersOf(dir).some((o) => !ours.has(o.name))) continue;
      // A directory no package owns comes whole (pg_createcluster's /etc/postgresql/15).
      for (const n of fs.readdir(dir))
        if (unowned(`${dir}/${n}`, true))
          out.set(`${dir}/${n}`, `${p.name}: no package owns it, in ${dir}`);
    }
  const inWritable = (path: string) => writable.some((w) => path.startsWith(`${w.path}/`));
  for (const p of packages) {
    const script =
      fs.readText(`/var/lib/dpkg/info/${p.name}.postinst`) ??
      fs.readText(`/var/lib/dpkg/info/${p.name}:${p.arch}.postinst`);
    for (const m of (script ?? "").matchAll(/(?<![\w$])\/[A-Za-z0-9_][\w./+-]*/g)) {
      const path = posix.normalize(m[0]);
      if (NOT_MADE.test(path) || OTHER_INIT.test(path) || inWritable(path) || out.has(path))
        continue;
      if (!unowned(path)) continue;
      out.set(path, `${p.name}.postinst names it, and no package owns it`);
    }
  }
  return [...out].sort(([a], [b]) => a.localeCompare(b)).map(([path, from]) => ({ path, from }));
}

/**
 * A daemon's documented switch to stay in the foreground, where its unit runs it in the
 * background: nginx's `daemon on;` (-g), redis's `--daemonize yes`. Undefined when the argv
 * already runs in the foreground as far as railyard knows.
 */
export function toForeground(
  argv: readonly string[],
): { argv: string[]; change: string } | undefined {
  const out = [...argv];
  const i = out.findIndex((a, j) => j > 0 && out[j - 1] === "-g" && /\bdaemon\s+on\s*;/.test(a));
  if (posix.basename(out[0] ?? "") === "nginx" && i !== -1) {
    out[i] = (out[i] as string).replace(/\bdaemon\s+on\s*;/, "daemon off;");
    return { argv: out, change: "nginx -g 'daemon on;' became 'daemon off;'" };
  }
  const d = out.findIndex((a, j) => j > 0 && out[j - 1] === "--daemonize" && a === "yes");
  if (d !== -1) {
    out[d] = "no";
    return { argv: out, change: "--daemonize yes became --daemonize no" };
  }
  return undefined;
}

function findOnPath(fs: FsView, arg0: string): string | undefined {
  if (arg0.startsWith("/")) return fs.lstat(arg0) ? arg0 : undefined;
  if (arg0.includes("/")) return undefined;
  return DEFAULT_PATH.split(":")
    .map((d) => `${d}/${arg0}`)
    .find((p) => fs.lstat(p) !== undefined);
}

/** A path with its symlinks resolved (within the view); the path itself when it is not there. */
function realPath(fs: FsView, path: string, depth = 0): string {
  const parts = posix.normalize(path).split("/").filter(Boolean);
  let cur = "";
  for (let i = 0; i < parts.length; i++) {
    const next = `${cur}/${parts[i]}`;
    const st = fs.lstat(next);
    if (st?.kind === "symlink" && depth < 40) {
      const target = posix.resolve(cur || "/", fs.readlink(next));
      return realPath(fs, [target, ...parts.slice(i + 1)].join("/"), depth + 1);
    }
    cur = next;
  }
  return cur || "/";
}
