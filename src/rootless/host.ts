/**
 * Rootless mode, the I/O part: the scope of the user running railyard (from /etc/passwd,
 * /etc/subuid, /etc/subgid and the XDG environment), and a chown to container ids, done inside a
 * user namespace because the user cannot chown to its subordinate ids directly.
 */
import { accessSync, constants, lstatSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { RootlessScope } from "../model/types.js";
import { readOr } from "../util/read-file.js";
import { parseIdFile } from "../model/accounts.js";
import { RootlessError, UsageError } from "../errors.js";
import { exec, type Exec } from "../util/exec.js";
import { chooseRange, mappedUnshareArgs, SUBID_RANGE, subordinateRanges } from "./scope.js";

/** $XDG_STATE_HOME/railyard, or ~/.local/state/railyard: where `--user` keeps its state. */
export function userStateDir(env: NodeJS.ProcessEnv, home: string): string {
  const xdg = env["XDG_STATE_HOME"];
  return xdg && xdg.startsWith("/") ? join(xdg, "railyard") : join(home, ".local/state/railyard");
}

/** The scope of the user this process runs as. Throws RootlessError with the fix. */
export function userScope(
  env: NodeJS.ProcessEnv,
  ids = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
): {
  scope: RootlessScope;
  stateDir: string;
} {
  const { uid, gid } = ids;
  const name = [...parseIdFile(readOr("/etc/passwd", ""))].find(([, [u]]) => u === uid)?.[0];
  if (uid === 0)
    throw new UsageError(
      "--user runs containers as a non-root user under that user's systemd. as root, leave --user out (system services)",
    );
  if (!name) throw new RootlessError(`uid ${uid} has no entry in /etc/passwd`, String(uid));
  const home = env["HOME"] || `/home/${name}`;
  const pick = (file: string, flag: string) => {
    const r = chooseRange(subordinateRanges(readOr(file, ""), name, uid));
    if (!r)
      throw new RootlessError(
        `${name} has no subordinate ids in ${file}, which rootless containers map onto container ids 1-${SUBID_RANGE}. ` +
          `as root: usermod ${flag} 100000-${100000 + SUBID_RANGE - 1} ${name} (a range no other user has); railyard doctor --rootless --for ${name} checks the rest`,
        name,
      );
    return r;
  };
  const subuid = pick("/etc/subuid", "--add-subuids");
  const subgid = pick("/etc/subgid", "--add-subgids");
  // A login gives the user /run/user/UID; su or cron may not. A foreground run needs no
  // systemd, so it takes a private directory instead, as podman does; the commands that need
  // the user's manager say how to get it (requireSystemd).
  const login = env["XDG_RUNTIME_DIR"] || `/run/user/${uid}`;
  const runtimeDir = ownDir(login, uid) ? login : privateRuntimeDir(env, uid, name);
  const config = env["XDG_CONFIG_HOME"]?.startsWith("/")
    ? (env["XDG_CONFIG_HOME"] as string)
    : join(home, ".config");
  return {
    scope: {
      user: name,
      uid,
      gid,
      subuid,
      subgid,
      runtimeDir,
      unitDir: join(config, "systemd/user"),
    },
    stateDir: userStateDir(env, home),
  };
}

/** Whether dir is a directory of uid's own that it can write (not root's, kept by su). */
function ownDir(dir: string, uid: number): boolean {
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory() || st.uid !== uid) return false;
    accessSync(dir, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The runtime directory of a user with no login session: $TMPDIR/railyard-run-UID (default
 * /tmp), made 0700. Anyone can make a name under /tmp first, so one that is not the user's own
 * directory, or that others can enter, is refused rather than used.
 */
export function privateRuntimeDir(env: NodeJS.ProcessEnv, uid: number, name: string): string {
  const tmp = env["TMPDIR"]?.startsWith("/") ? (env["TMPDIR"] as string) : "/tmp";
  const dir = join(tmp, `railyard-run-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST")
      throw new RootlessError(
        `cannot make ${dir} for ${name}'s runtime files: ${(e as Error).message}`,
        name,
      );
  }
  const st = lstatSync(dir);
  const why = runtimeDirProblem(st, uid);
  if (why)
    throw new RootlessError(
      `${dir} ${why}, so ${name}'s runtime files cannot go there. remove it, or log in as ${name} ` +
        `(a login session has /run/user/${uid}); as root, loginctl enable-linger ${name} makes that permanent`,
      name,
    );
  return dir;
}

/** Why an existing private runtime directory is not safe to use, or undefined. Pure. */
export function runtimeDirProblem(
  st: { isDirectory(): boolean; isSymbolicLink(): boolean; uid: number; mode: number },
  uid: number,
): string | undefined {
  if (st.isSymbolicLink()) return "is a symbolic link";
  if (!st.isDirectory()) return "is not a directory";
  if (st.uid !== uid) return `belongs to uid ${st.uid}, not ${uid}`;
  if ((st.mode & 0o077) !== 0)
    return `has mode ${(st.mode & 0o777).toString(8)}, which lets others in`;
  return undefined;
}

/**
 * chown a path to container ids: `unshare` maps the user to 0 and the subordinate range to
 * 1..count (through the setuid newuidmap/newgidmap), and chown runs in there.
 */
export async function chownMapped(
  path: string,
  owner: { uid: number; gid: number },
  scope: RootlessScope,
  run: Exec = exec,
): Promise<void> {
  const r = await run("unshare", [
    ...mappedUnshareArgs(scope),
    "chown",
    `${owner.uid}:${owner.gid}`,
    path,
  ]);
  if (r.code !== 0)
    throw new RootlessError(
      `cannot give ${path} to container user ${owner.uid}:${owner.gid} (unshare with newuidmap): ${r.stderr.trim()}. ` +
        "install uidmap, and see railyard doctor --user",
      scope.user,
    );
}
