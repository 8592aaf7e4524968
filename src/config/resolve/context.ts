/** What every section resolver is given: the host's facts, and where to report a problem. */
import type { RootlessScope } from "../../model/types.js";
import type { HostServiceReader } from "../../model/host-service.js";

/** The host facts resolution depends on, passed in so that resolution stays pure. */
export interface ResolveContext {
  /** The config file, for messages. */
  readonly file: string;
  /** This host's architecture, OCI-style ("amd64"). */
  readonly hostArch: string;
  /** Look up a user name on the host: its uid and primary gid. */
  readonly lookupUser: (name: string) => { uid: number; gid: number } | undefined;
  /** Look up a group name on the host. */
  readonly lookupGroup: (name: string) => number | undefined;
  /** Reverse look-ups, for the names written into the container's /etc/passwd and /etc/group. */
  readonly userName: (uid: number) => string | undefined;
  readonly groupName: (gid: number) => string | undefined;
  /**
   * What the host says about running a host program as its Debian service (closure/service.ts,
   * passed in by the CLI). Without it, a host program takes nothing from its packages.
   */
  readonly hostService?: HostServiceReader;
  /** `railyard --user`: the rootless scope the config is built for; what it cannot run is a problem. */
  readonly rootless?: RootlessScope;
  /** `--state-dir`, which overrides the config's `stateDir` (it must be absolute). */
  readonly stateDirFlag?: string;
  /**
   * The state dir whose runtime ids are plain (default /var/lib/railyard); a rootless config
   * always uses it, a project `projects/PROJECT` below it.
   */
  readonly defaultStateDir?: string;
}

/** Report a problem at a key path (relative to the section being resolved). */
export type Report = (path: PropertyKey[], message: string) => void;
