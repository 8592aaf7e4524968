/**
 * A non-root user inside a booted test systemd (tests/helpers/systemd.ts), for rootless mode:
 * created in the namespace's overlay (the host's /etc/passwd is untouched), with a subordinate
 * range, lingering (so logind starts its user manager), and a copy of the railyard CLI it can
 * read wherever the repository lives.
 */
import { dirname } from "node:path";
import type { CliResult } from "./cli.js";
import { CLI } from "./paths.js";
import type { BootedSystemd } from "./systemd.js";

export interface TestUser {
  readonly name: string;
  readonly uid: number;
  readonly home: string;
  /** Where its container ids 1..65536 land on the host. */
  readonly subStart: number;
  /** Run a command as the user, with a login-like environment (HOME, XDG_RUNTIME_DIR). */
  run(cmd: string, args: readonly string[], input?: string): CliResult;
  /** `railyard ARGS` as the user, from its home directory. */
  railyard(args: readonly string[]): CliResult;
}

const USER_CLI = "/opt/railyard-test";

export async function addTestUser(
  sd: BootedSystemd,
  /**
   * journal: in systemd-journal, as `railyard doctor --user` advises (reads every container's
   * output). linger: false leaves the user with no manager and no /run/user/UID, as a user
   * reached by su or cron has.
   */
  o: { name: string; uid: number; subStart: number; journal?: boolean; linger?: boolean },
): Promise<TestUser> {
  const sh = (script: string) => {
    const r = sd.exec("/bin/sh", ["-ec", script]);
    if (r.code !== 0) throw new Error(`${script}\n${r.stderr}`);
  };
  const home = `/home/${o.name}`;
  const repo = dirname(dirname(CLI));
  sh(`useradd -m -u ${o.uid} -U -s /bin/sh ${o.name}
echo "${o.name}:${o.subStart}:65536" >> /etc/subuid
echo "${o.name}:${o.subStart}:65536" >> /etc/subgid
mkdir -p ${USER_CLI}/dist
cp -r ${repo}/bin ${repo}/package.json ${USER_CLI}/
cp -r ${repo}/dist/cli ${USER_CLI}/dist/
${o.journal ? `usermod -aG systemd-journal ${o.name}` : ""}
${o.linger === false ? "" : `loginctl enable-linger ${o.name}`}`);
  // logind starts user@UID.service for a lingering user; its private socket means it is up.
  for (let i = 0; i < 200 && o.linger !== false; i++) {
    if (sd.exec("test", ["-S", `/run/user/${o.uid}/systemd/private`]).code === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const run = (cmd: string, args: readonly string[], input?: string): CliResult =>
    sd.exec(
      "setpriv",
      [
        `--reuid=${o.uid}`,
        `--regid=${o.uid}`,
        "--init-groups",
        "env",
        "-i",
        `HOME=${home}`,
        `USER=${o.name}`,
        `LOGNAME=${o.name}`,
        `XDG_RUNTIME_DIR=/run/user/${o.uid}`,
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "/bin/sh",
        "-c",
        'cd "$HOME" && exec "$@"',
        "sh",
        cmd,
        ...args,
      ],
      input !== undefined ? { input } : {},
    );
  return {
    name: o.name,
    uid: o.uid,
    home,
    subStart: o.subStart,
    run,
    railyard: (args) => run(process.execPath, [`${USER_CLI}/bin/railyard.cjs`, ...args]),
  };
}
