import { checkAbsolutePath } from "../model/parse.js";
import { parseSignal } from "../model/parse.js";
import type { ResolvedContainer, ResolvedUser } from "../model/types.js";
import { BuildError } from "../errors.js";
import type { ImageConfig } from "../image/manifest.js";

/** What the container's process is, once the config is combined with its image (if any). */
export interface ProcessInfo {
  readonly args: readonly string[];
  /** Environment before the container's own `environment` (image Env, or the defaults). */
  readonly baseEnv: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly user: ResolvedUser;
  readonly home: string;
  readonly stopSignal: string;
  /** Image labels, under the config's own labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** Image Volumes: container paths that get a persistent per-container directory. */
  readonly volumes: readonly string[];
  /** `groupAdd` as ids. */
  readonly additionalGids?: readonly number[];
}

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const ROOT: ResolvedUser = { uid: 0, gid: 0, name: "root", group: "root" };

/** A host-program container: everything comes from the config. */
export function hostProcess(c: ResolvedContainer, program: string): ProcessInfo {
  const user = c.user ?? ROOT;
  // Resolution made a host program's group names ids.
  const gids = (c.groupAdd ?? []).filter((g): g is number => typeof g === "number");
  return {
    ...(gids.length > 0 ? { additionalGids: gids } : {}),
    args: [program, ...c.args.slice(1)],
    baseEnv: { PATH: DEFAULT_PATH },
    cwd: c.workdir ?? "/",
    user,
    home: user.uid === 0 ? "/root" : "/",
    stopSignal: c.stopSignal ?? "SIGTERM",
    labels: {},
    volumes: [],
  };
}

/** A user database: /etc/passwd and /etc/group lines of a rootfs, already read safely. */
export interface UserDb {
  readonly passwd: string;
  readonly group: string;
}

interface PwEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** The well-formed entries of a passwd file's text, in order. Pure. */
export function passwdEntries(text: string): PwEntry[] {
  return text
    .split("\n")
    .map((l) => l.split(":"))
    .filter((f) => f.length >= 6 && f[0] && /^\d+$/.test(f[2] ?? "") && /^\d+$/.test(f[3] ?? ""))
    .map((f) => ({
      name: f[0] as string,
      uid: Number(f[2]),
      gid: Number(f[3]),
      home: f[5] || "/",
    }));
}

/** uid -> name from a passwd file's text, the first entry of a uid winning (`top`). Pure. */
export function userNames(passwd: string): Map<number, string> {
  return new Map(
    passwdEntries(passwd)
      .reverse()
      .map((e) => [e.uid, e.name]),
  );
}

function groupEntries(text: string): { name: string; gid: number }[] {
  return text
    .split("\n")
    .map((l) => l.split(":"))
    .filter((f) => f.length >= 3 && f[0] && /^\d+$/.test(f[2] ?? ""))
    .map((f) => ({ name: f[0] as string, gid: Number(f[2]) }));
}

/**
 * Resolve `user[:group]` the way runc/docker do for images: names are looked up in the image's
 * /etc/passwd and /etc/group; numeric ids need not exist. A name that does not exist is an error.
 */
export function resolveImageUser(
  spec: string,
  db: UserDb,
  where: string,
  container: string,
): { user: ResolvedUser; home: string } {
  const [u = "", g] = spec.split(":");
  const pw = passwdEntries(db.passwd);
  const grp = groupEntries(db.group);
  let uid: number;
  let gid: number;
  let name: string;
  let home = "/";
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const e = pw.find((p) => p.uid === uid);
    gid = e?.gid ?? (uid === 0 ? 0 : uid);
    name = e?.name ?? (uid === 0 ? "root" : `u${uid}`);
    home = e?.home ?? (uid === 0 ? "/root" : "/");
  } else {
    const e = pw.find((p) => p.name === u);
    if (!e)
      throw new BuildError(
        `${where}: user ${JSON.stringify(u)} does not exist in the image's /etc/passwd. use a numeric "uid:gid", or a user the image defines`,
        container,
      );
    ({ uid, gid, name, home } = e);
  }
  let group = grp.find((x) => x.gid === gid)?.name ?? `g${gid}`;
  if (g !== undefined && g !== "") {
    if (/^\d+$/.test(g)) {
      gid = Number(g);
      group = grp.find((x) => x.gid === gid)?.name ?? `g${gid}`;
    } else {
      const e = grp.find((x) => x.name === g);
      if (!e)
        throw new BuildError(
          `${where}: group ${JSON.stringify(g)} does not exist in the image's /etc/group`,
          container,
        );
      gid = e.gid;
      group = e.name;
    }
  }
  return { user: { uid, gid, name, group }, home };
}

function envRecord(list: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const i = kv.indexOf("=");
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/**
 * The OCI image-spec conversion: args = Entrypoint + Cmd (the config's entrypoint/cmd override them;
 * overriding the entrypoint drops the image's Cmd, as docker does), Env, WorkingDir, User,
 * StopSignal, Labels and Volumes. A WorkingDir or Volume that is not a clean absolute path (and so
 * could escape the rootfs) is refused.
 */
export function imageProcess(c: ResolvedContainer, config: ImageConfig, db: UserDb): ProcessInfo {
  const img = config.config ?? {};
  const where = `containers.${c.name}`;
  const entrypoint = c.image?.entrypoint ?? img.Entrypoint ?? [];
  const cmd = c.image?.cmd ?? (c.image?.entrypoint !== undefined ? [] : (img.Cmd ?? []));
  const args = [...entrypoint, ...cmd];
  if (args.length === 0)
    throw new BuildError(
      `${where}: the image has no Entrypoint or Cmd. set entrypoint or cmd in the config`,
      c.name,
    );
  let cwd = c.workdir;
  if (cwd === undefined) {
    const wd = img.WorkingDir || "/";
    if (checkAbsolutePath(wd.replace(/\/+$/, "") || "/"))
      throw new BuildError(
        `${where}: the image's WorkingDir ${JSON.stringify(wd)} is not a clean absolute path inside the rootfs`,
        c.name,
      );
    cwd = wd.replace(/\/+$/, "") || "/";
  }
  let user: ResolvedUser;
  let home: string;
  if (c.user) {
    const db2 = resolveImageUser(`${c.user.uid}:${c.user.gid}`, db, `${where}.user`, c.name);
    ({ user, home } = { user: c.user, home: db2.home });
  } else
    ({ user, home } = resolveImageUser(
      c.userSpec ?? (img.User || "0"),
      db,
      c.userSpec ? `${where}.user` : `${where}: the image's User`,
      c.name,
    ));
  let stopSignal = c.stopSignal ?? "SIGTERM";
  if (c.stopSignal === undefined && img.StopSignal) {
    const p = parseSignal(img.StopSignal);
    if (!p.ok) throw new BuildError(`${where}: the image's StopSignal: ${p.error}`, c.name);
    stopSignal = p.value;
  }
  const volumes = Object.keys(img.Volumes ?? {}).map((v) => v.replace(/\/+$/, "") || "/");
  for (const v of volumes)
    if (checkAbsolutePath(v) || v === "/")
      throw new BuildError(
        `${where}: the image's Volume ${JSON.stringify(v)} is not a clean absolute path inside the rootfs`,
        c.name,
      );
  const env = envRecord(img.Env);
  const groups = groupEntries(db.group);
  const gids = (c.groupAdd ?? []).map((g) => {
    if (typeof g === "number") return g;
    const e = groups.find((x) => x.name === g);
    if (!e)
      throw new BuildError(
        `${where}.groupAdd: the group ${g} does not exist in the image's /etc/group. use its id`,
        c.name,
      );
    return e.gid;
  });
  return {
    ...(gids.length > 0 ? { additionalGids: gids } : {}),
    args,
    baseEnv: { PATH: env["PATH"] ?? DEFAULT_PATH, ...env },
    cwd,
    user,
    home,
    stopSignal,
    labels: img.Labels ?? {},
    volumes: volumes.sort(),
  };
}
