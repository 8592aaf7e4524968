/**
 * What the host says about how one of its programs runs as its Debian service: the packages it
 * belongs to, the systemd unit they ship for it, the directories it writes, and the files its
 * packages' scripts made. closure/service.ts reads it; config/resolve/host-service.ts turns it
 * into the container's settings where the config sets none. Types only.
 */

/** A directory the program writes: a tmpfs (/run, caches) or a volume kept in the state dir. */
export interface HostWritable {
  readonly path: string;
  readonly kind: "tmpfs" | "volume";
  /** Its mode and owner: the host directory's, or the unit's (names, looked up on the host). */
  readonly mode: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly user?: string;
  readonly group?: string;
  /**
   * A volume starts as a copy of the host's directory, as a new docker volume does from its
   * image (not logs: they start empty, with the directory's owner and mode).
   */
  readonly seed: boolean;
  /** What said so: `nginx-common owns /var/lib/nginx`, `redis-server.service RuntimeDirectory=`. */
  readonly from: string;
}

export interface HostService {
  /** The program as the host runs it (absolute). */
  readonly program: string;
  /** The Debian packages it belongs to: its own, those of its source, the unit's. */
  readonly packages: readonly string[];
  /** The unit read (its path), when a package ships one that runs the program. */
  readonly unit?: string;
  /** The unit's ExecStart as argv (variables from its Environment= expanded). */
  readonly execStart?: readonly string[];
  /** ExecStart, turned to run in the foreground, and what changed (undefined: it already does). */
  readonly foreground?: { readonly argv: readonly string[]; readonly change: string };
  /** `Type=` (simple, forking, notify, ...). */
  readonly type?: string;
  readonly user?: string;
  readonly group?: string;
  /** The signal that stops it, and the setting that says so (KillSignal=, or ExecStop='s). */
  readonly stopSignal?: { readonly signal: string; readonly from: string };
  readonly ambientCapabilities: readonly string[];
  /** `CapabilityBoundingSet=` when the unit sets it ([] when it sets it empty). */
  readonly boundingSet?: readonly string[];
  readonly environment: Readonly<Record<string, string>>;
  /** `EnvironmentFile=` that exist on the host (a "-" one that does not is left out). */
  readonly environmentFiles: readonly string[];
  readonly writable: readonly HostWritable[];
  /** Files and links no package owns that its packages' scripts made (nginx's sites-enabled/default). */
  readonly made: readonly { readonly path: string; readonly from: string }[];
  /**
   * With no unit to say who runs it: the one user (not root) that owns every directory its
   * packages keep state in (postgres's /var/lib/postgresql), as the packages' scripts made them.
   */
  readonly stateOwner?: { readonly uid: number; readonly gid: number; readonly from: string };
}

/** The question asked of the host for one container. */
export interface HostServiceQuery {
  /** args[0] as the config gives it (absolute, or a name on PATH); unset with `service`. */
  readonly program?: string;
  /** `service: "nginx.service"`: the unit to take the program and its settings from. */
  readonly service?: string;
}

/** Reads what the host says; undefined when the program is no package's. Throws a ClosureError. */
export type HostServiceReader = (q: HostServiceQuery) => HostService | undefined;

/** What a host program took from its packages and their systemd unit (see `service`). */
export interface FromHost {
  readonly packages: readonly string[];
  readonly unit?: string;
  /** Each setting taken: the key, its value as the config would write it, and what said so. */
  readonly took: readonly { readonly key: string; readonly value: string; readonly from: string }[];
  /** Directories it writes, made tmpfs or volumes at build (the config's own mounts win). */
  readonly writable: readonly HostWritable[];
}
