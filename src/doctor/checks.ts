/**
 * `railyard doctor` (pure): what a host needs for railyard, as checks with a fix for each that
 * fails. The facts come from `facts.ts`; nothing here reads the host.
 */
import { SUBID_RANGE } from "../rootless/scope.js";
import type { CgroupLayout, RuntimeChoice } from "../host/detect.js";

/** What a rootless user needs: id ranges, lingering, id-mapping helpers, namespaces, delegation. */
export interface UserFacts {
  readonly name: string;
  readonly uid: number;
  /** Subordinate ids railyard would map from /etc/subuid and /etc/subgid (its one chosen range). */
  readonly subuids: number;
  readonly subgids: number;
  /** /var/lib/systemd/linger/NAME: the user's systemd runs without a login session. */
  readonly linger: boolean;
  readonly newuidmap: boolean;
  /** pasta (Debian's passt) connects a rootless container's network "private". */
  readonly pasta: boolean;
  /** /dev/net/tun is open to every user (pasta opens it as the user). */
  readonly tunOpen: boolean;
  readonly newgidmap: boolean;
  /** /proc/sys/user/max_user_namespaces. */
  readonly maxUserNamespaces: number;
  /** Debian's kernel.unprivileged_userns_clone, where the kernel has it. */
  readonly unprivilegedUsernsClone?: boolean;
  /** Controllers the user's systemd may use (its cgroup's subtree_control), when it runs. */
  readonly delegated?: readonly string[];
  /** A member of systemd-journal or adm: may read the journal of every uid. */
  readonly journalReader: boolean;
}

export interface DoctorFacts {
  readonly runtime:
    | { readonly ok: true; readonly choice: RuntimeChoice }
    | { readonly ok: false; readonly error: string };
  readonly cgroupLayout: CgroupLayout;
  readonly systemdBooted: boolean;
  /** The tools that private and named networks run at each start. */
  readonly networkTools: { readonly ip: boolean; readonly nft: boolean };
  /** CDI devices found in the spec directories, and the specs that are not valid. */
  readonly cdi: {
    readonly dirs: readonly string[];
    readonly devices: readonly string[];
    readonly problems: readonly { readonly file: string; readonly message: string }[];
  };
  /** Set for `doctor --rootless`. */
  readonly user?: UserFacts;
}

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  /** What was found. */
  readonly detail: string;
  /** A command or step that fixes it; only for failed checks. */
  readonly fix?: string;
  /** "warning": railyard works, with less. */
  readonly severity: "error" | "warning";
}

const CONTROLLERS = ["cpu", "memory", "pids"];

function check(
  name: string,
  ok: boolean,
  detail: string,
  fix: string,
  severity: Check["severity"] = "error",
): Check {
  return ok ? { name, ok, detail, severity } : { name, ok, detail, fix, severity };
}

export function doctorChecks(f: DoctorFacts): Check[] {
  return [...hostChecks(f), ...(f.user ? userChecks(f.user) : [])];
}

/** What every railyard host needs: a runtime, systemd, cgroups, network tools, CDI specs. */
function hostChecks(f: DoctorFacts): Check[] {
  return [
    f.runtime.ok
      ? check(
          "OCI runtime",
          true,
          `${f.runtime.choice.name} (${f.runtime.choice.path}): ${f.runtime.choice.reason}`,
          "",
        )
      : check("OCI runtime", false, f.runtime.error, "apt-get install runc"),
    check(
      "systemd",
      f.systemdBooted,
      f.systemdBooted
        ? "systemd is the init system"
        : "systemd is not the init system (no /run/systemd/system): switch, status and logs need it",
      "boot the host with systemd; without it, railyard run NAME still runs a container in the foreground",
    ),
    check(
      "cgroups",
      f.cgroupLayout === "unified",
      `the cgroup layout is ${f.cgroupLayout}`,
      "boot with systemd.unified_cgroup_hierarchy=1 for cgroup v2 only (crun works there, and rootless containers get limits)",
      "warning",
    ),
    check(
      "networks",
      f.networkTools.ip && f.networkTools.nft,
      f.networkTools.ip && f.networkTools.nft
        ? 'ip and nft are installed: network "private", named networks and ports work'
        : `${[f.networkTools.ip ? "" : "ip", f.networkTools.nft ? "" : "nft"].filter(Boolean).join(" and ")} missing: network "private", named networks and ports need them`,
      `apt-get install ${[f.networkTools.ip ? "" : "iproute2", f.networkTools.nft ? "" : "nftables"].filter(Boolean).join(" ")}`,
      "warning",
    ),
    check(
      "CDI devices",
      f.cdi.problems.length === 0,
      (f.cdi.devices.length > 0
        ? `${f.cdi.devices.length} in ${f.cdi.dirs.join(", ")}: ${f.cdi.devices.join(", ")}`
        : `none in ${f.cdi.dirs.join(", ")} (devices: ["vendor.com/class=name"] needs a vendor's spec there)`) +
        f.cdi.problems.map((p) => `; ${p.file} left out: ${p.message}`).join(""),
      "correct or remove the specs left out (a vendor's tool writes them, e.g. nvidia-ctk cdi generate)",
      "warning",
    ),
  ];
}

/** What a rootless user needs: subordinate ids, their mapping, pasta, lingering, the journal. */
function userChecks(u: NonNullable<DoctorFacts["user"]>): Check[] {
  const who = `${u.name} (uid ${u.uid})`;
  return [
    check(
      "subordinate uids",
      u.subuids >= SUBID_RANGE,
      `${who} has ${u.subuids} in /etc/subuid; rootless containers need ${SUBID_RANGE}`,
      `usermod --add-subuids 100000-${100000 + SUBID_RANGE - 1} ${u.name}  (pick a range no other user has)`,
    ),
    check(
      "subordinate gids",
      u.subgids >= SUBID_RANGE,
      `${who} has ${u.subgids} in /etc/subgid; rootless containers need ${SUBID_RANGE}`,
      `usermod --add-subgids 100000-${100000 + SUBID_RANGE - 1} ${u.name}`,
    ),
    check(
      "newuidmap/newgidmap",
      u.newuidmap && u.newgidmap,
      u.newuidmap && u.newgidmap
        ? "found: the id ranges can be mapped"
        : "missing: the subordinate ids cannot be mapped into a user namespace",
      "apt-get install uidmap",
    ),
    check(
      "pasta",
      u.pasta && u.tunOpen,
      !u.pasta
        ? 'missing: rootless containers can use network "host" or "none" only'
        : !u.tunOpen
          ? "/dev/net/tun is not open to every user: pasta cannot connect a rootless container"
          : 'found: rootless containers can have network "private" and publish ports',
      u.pasta
        ? "chmod 0666 /dev/net/tun  (as Debian's udev rules make it)"
        : "apt-get install passt",
      "warning",
    ),
    check(
      "user namespaces",
      u.maxUserNamespaces > 0 && u.unprivilegedUsernsClone !== false,
      u.unprivilegedUsernsClone === false
        ? "kernel.unprivileged_userns_clone is 0: unprivileged users cannot create user namespaces"
        : `user.max_user_namespaces is ${u.maxUserNamespaces}`,
      u.unprivilegedUsernsClone === false
        ? "sysctl -w kernel.unprivileged_userns_clone=1 (and set it in /etc/sysctl.d/)"
        : "sysctl -w user.max_user_namespaces=15000 (and set it in /etc/sysctl.d/)",
    ),
    check(
      "lingering",
      u.linger,
      u.linger
        ? `${u.name}'s systemd runs without a login`
        : `${u.name}'s systemd stops at logout, and the containers with it`,
      `loginctl enable-linger ${u.name}`,
    ),
    // journald files a process's output by its host uid: a container user other than root is a
    // subordinate uid, whose journal only the journal groups may read.
    check(
      "journal access",
      u.journalReader,
      u.journalReader
        ? `${u.name} reads the output of containers that run as any container user`
        : `${u.name} sees the output of containers running as container root only: others log under subordinate uids`,
      `usermod -aG systemd-journal ${u.name}`,
      "warning",
    ),
    delegation(u),
  ];
}

/** Which cgroup controllers the user's manager may use, as limits need them. */
function delegation(u: NonNullable<DoctorFacts["user"]>): Check {
  if (u.delegated !== undefined) {
    const missing = CONTROLLERS.filter((c) => !u.delegated?.includes(c));
    return check(
      "cgroup delegation",
      missing.length === 0,
      missing.length === 0
        ? `${u.name}'s systemd may use ${CONTROLLERS.join(", ")}`
        : `${u.name}'s systemd may not use ${missing.join(", ")}: memory, cpus and pids limits would not apply`,
      `mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' > /etc/systemd/system/user@.service.d/delegate.conf && systemctl daemon-reload`,
      "warning",
    );
  }
  return check(
    "cgroup delegation",
    false,
    `${u.name}'s systemd is not running, so its delegated controllers cannot be read`,
    `loginctl enable-linger ${u.name}, then run railyard doctor --rootless again`,
    "warning",
  );
}
