/**
 * The host facts `railyard doctor` checks (I/O): the runtime choice, the cgroup layout, systemd,
 * and for a rootless user their id ranges, lingering, the id-mapping helpers, the user namespace
 * sysctls and the controllers delegated to their systemd.
 */
import { readText } from "../util/read-file.js";
import { existsSync, statSync } from "node:fs";
import { loadCdiRegistry } from "../cdi/host.js";
import { cdiNames } from "../cdi/spec.js";
import { DEFAULT_CDI_DIRS } from "../model/cdi.js";
import { parseIdFile } from "../model/accounts.js";
import { UsageError } from "../errors.js";
import { chooseRuntime, hostProbe, type RuntimeProbe } from "../host/detect.js";
import { systemdBooted } from "../systemd/systemctl.js";
import { chooseRange, subordinateRanges } from "../rootless/scope.js";
import { PASTA } from "../host/tools.js";
import type { DoctorFacts, UserFacts } from "./checks.js";

/** The ids railyard maps from a subordinate file: its chosen range (one range is mapped). */
const mappedIds = (text: string, name: string, uid: number): number =>
  chooseRange(subordinateRanges(text, name, uid))?.count ?? 0;

/** Is the user (primary gid, or listed as a member) in one of these groups of /etc/group text? */
export function inGroups(
  text: string,
  user: string,
  gid: number,
  groups: readonly string[],
): boolean {
  return text.split("\n").some((line) => {
    const [name, , id, members] = line.split(":");
    if (name === undefined || !groups.includes(name)) return false;
    return Number(id) === gid || (members ?? "").split(",").includes(user);
  });
}

/** Whether /dev/net/tun is readable and writable by every user (mode 0666, Debian's). */
function tunOpen(): boolean {
  try {
    return (statSync("/dev/net/tun").mode & 0o006) === 0o006;
  } catch {
    return false;
  }
}

export function userFacts(name: string, probe: RuntimeProbe): UserFacts {
  const entry = parseIdFile(readText("/etc/passwd") ?? "").get(name);
  if (!entry) throw new UsageError(`no user ${JSON.stringify(name)} in /etc/passwd`);
  const uid = entry[0];
  const clone = readText("/proc/sys/kernel/unprivileged_userns_clone")?.trim();
  const slice = `user.slice/user-${uid}.slice/user@${uid}.service/cgroup.subtree_control`;
  const subtree =
    readText(`/sys/fs/cgroup/${slice}`) ?? readText(`/sys/fs/cgroup/unified/${slice}`);
  return {
    name,
    uid,
    subuids: mappedIds(readText("/etc/subuid") ?? "", name, uid),
    subgids: mappedIds(readText("/etc/subgid") ?? "", name, uid),
    linger: existsSync(`/var/lib/systemd/linger/${name}`),
    journalReader: inGroups(readText("/etc/group") ?? "", name, entry[1], [
      "systemd-journal",
      "adm",
    ]),
    newuidmap: probe.which("newuidmap") !== undefined,
    newgidmap: probe.which("newgidmap") !== undefined,
    pasta: existsSync(PASTA),
    tunOpen: tunOpen(),
    maxUserNamespaces: Number(readText("/proc/sys/user/max_user_namespaces")?.trim() ?? 0),
    ...(clone !== undefined ? { unprivilegedUsernsClone: clone === "1" } : {}),
    ...(subtree !== undefined ? { delegated: subtree.trim().split(/\s+/).filter(Boolean) } : {}),
  };
}

export async function doctorFacts(
  env: NodeJS.ProcessEnv,
  rootlessUser?: string,
  cdiDirs: readonly string[] = DEFAULT_CDI_DIRS,
): Promise<DoctorFacts> {
  const registry = await loadCdiRegistry(cdiDirs);
  const probe = hostProbe(env);
  let runtime: DoctorFacts["runtime"];
  try {
    runtime = { ok: true, choice: chooseRuntime("auto", probe) };
  } catch (e) {
    runtime = { ok: false, error: (e as Error).message };
  }
  return {
    runtime,
    cgroupLayout: probe.cgroupLayout(),
    systemdBooted: systemdBooted(),
    networkTools: { ip: probe.which("ip") !== undefined, nft: probe.which("nft") !== undefined },
    cdi: { dirs: cdiDirs, devices: cdiNames(registry), problems: registry.problems },
    ...(rootlessUser !== undefined ? { user: userFacts(rootlessUser, probe) } : {}),
  };
}
