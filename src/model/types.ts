/**
 * The user-facing config types. Every field is optional and documents its default; `resolveConfig`
 * applies the defaults and validates. Field names follow NixOS (`virtualisation.oci-containers`
 * and `ociTools`) where a name exists there.
 */

import type { PortSpec } from "./parse.js";
import type { GitContext } from "./git-context.js";
import type { FromHost } from "./host-service.js";

/** `systemd` Restart= values. */
export type RestartPolicy =
  "no" | "always" | "on-success" | "on-failure" | "on-abnormal" | "on-abort" | "on-watchdog";

/**
 * Where a container's network lives: "none" (its own namespace, loopback only), "host" (the
 * host's), "private" (its own namespace with an address, outbound traffic and the ports it
 * publishes, and no way to reach other containers but their published ports), or the name of a
 * network declared under `networks`, whose members also reach each other by name.
 */
export type NetworkMode = "none" | "host" | "private" | (string & {});

/** A container's place on one named network: the extra names its peers there reach it by. */
export interface NetworkAttachmentConfig {
  /** More names for this container on this network, as compose's `aliases`. @default [] */
  aliases?: string[];
}

/** A named network: a bridge whose members reach each other by name. */
export interface NetworkConfig {
  /** An IPv4 subnet, e.g. "10.91.7.0/24"; the host's bridge takes its first address. @default the first free /24 of 10.91.0.0/16 */
  subnet?: string;
  /**
   * Dual stack: `true` for an IPv6 unique local /64 of railyard's choosing (stable: derived from
   * the state dir and the network's name), or an IPv6 subnet such as "fd00:91:7::/64". Members
   * get an IPv6 address beside their IPv4 one, and ports can be published on IPv6 addresses.
   * @default false (IPv4 only)
   */
  ipv6?: boolean | string;
}

/** An ociTools-style mount, keyed by its destination inside the container. */
export interface MountConfig {
  /** Absolute host path (for bind mounts) or a filesystem source name. */
  source: string;
  /** @default "bind" */
  type?: string;
  /** Mount options. @default ["rbind", "rw"] for binds, [] otherwise */
  options?: string[];
}

export interface ResourcesConfig {
  /** Memory limit: bytes, or a string with a unit ("512m", "2g"). @default unlimited */
  memory?: number | string;
  /** CPU limit in cores, e.g. 1.5. @default unlimited */
  cpus?: number;
  /** Maximum number of processes. @default unlimited */
  pids?: number;
}

export interface DnsConfig {
  servers?: string[];
  search?: string[];
  options?: string[];
}

/** One rlimit: a whole number, or -1 or "unlimited" for none. */
export type UlimitValue = number | "unlimited";

export interface ContainerConfig {
  /** The program and its arguments: a host program, whose closure becomes the rootfs. */
  args?: string[];
  /** Which files of the host go into the rootfs for `args`. @default "elf" */
  closure?: "elf" | "packages";
  /** Extra host paths (files or whole directories) copied into the rootfs by hardlink. @default [] */
  include?: string[];
  /**
   * A host program runs as its Debian service does. Its packages' systemd unit (the one whose
   * ExecStart runs `args[0]`) gives the user, the stop signal, the capabilities, Environment= and
   * EnvironmentFile=; the directories the packages own under /var/lib and /var/log become volumes
   * (kept in the state dir, first filled from the host's), those under /run and /var/cache a
   * tmpfs; files their scripts made (no package owns them) are included. Every key the config
   * sets wins, and `railyard check` says what came from where. A unit name (`"nginx.service"`)
   * also gives the program and its arguments (in the foreground); false takes nothing from the
   * host. @default the unit whose ExecStart runs args[0], if a package ships one
   */
  service?: string | false;
  /** Host paths `service` would take that the container should not get (included files, directories). @default [] */
  exclude?: string[];
  /** Image reference, e.g. "docker.io/library/busybox:1.36" or "busybox". Pinned in railyard.lock. */
  image?: string;
  /**
   * Image archive imported without network: a `docker save` tar, an oci-archive tar, or an OCI
   * layout directory as "oci:DIR[:TAG]". `image` then names it; @default the archive's own tag.
   */
  imageFile?: string;
  /**
   * Build the image from a Dockerfile at `railyard build`, with buildah (or podman): the context
   * directory (relative to the config file), or the context with `dockerfile` (relative to the
   * context), build `args` and a `target` stage. `image` then names the result;
   * @default "localhost/NAME:latest". The image is pinned in railyard.lock with a hash of the
   * context, so an unchanged context is not built again.
   */
  build?: string | BuildConfig;
  /** Overrides the image's Cmd. For host programs, appended to `args`. @default the image's Cmd */
  cmd?: string[];
  /** Overrides the image's Entrypoint (a string is one argument). @default the image's Entrypoint */
  entrypoint?: string | string[];
  /** Credentials for pulling `image`; the password is read from a file, never from argv or the config. */
  login?: LoginConfig;
  /** Environment variables. @default {} */
  environment?: Record<string, string>;
  /**
   * Secrets from the top-level `secrets`, by name or `{ source, target?, uid?, gid?, mode? }`.
   * Each appears read-only at `/run/secrets/<target>` (a relative target is under
   * /run/secrets), delivered at start as a systemd credential: never written under the state
   * dir, into a unit or a generation. @default [] (uid 0, gid 0, mode 0o444, as compose)
   */
  secrets?: (string | ContainerSecretConfig)[];
  /** Files of `KEY=value` lines read at build time and merged under `environment`. @default [] */
  environmentFiles?: string[];
  /** ociTools mounts: destination -> mount. @default {} */
  mounts?: Record<string, MountConfig>;
  /** Bind mounts as `"/host/path:/container/path[:ro|:rw]"`. @default [] */
  volumes?: string[];
  /** tmpfs mounts as `"/path[:options]"`, e.g. `"/tmp:size=64m,mode=1777"`. @default [] */
  tmpfs?: string[];
  /**
   * Published ports, `"[ip:][hostPort:]containerPort[/tcp|/udp]"`. Without an address a port is
   * published on 127.0.0.1 only, since published ports bypass the host firewall; without a host
   * port, on the container's own number. Ports need a network of the container's own: without
   * a `network`, a container with ports is on network "private". @default []
   */
  ports?: string[];
  /**
   * How to tell whether the program works, as compose's healthcheck. Under systemd the service is
   * ready only once a check passed (so dependents wait), checks run every `interval` from a
   * timer (`runc exec`, nothing resident), and `retries` failures in a row restart the service.
   * Exported as Kubernetes probes, Quadlet Health* keys and compose's healthcheck. @default none
   */
  healthcheck?: HealthcheckConfig;
  /** `"uid:gid"`, `"uid"`, `"name"` or `"name:group"`. @default "0:0" */
  user?: string;
  /** Working directory inside the container. @default "/" */
  workdir?: string;
  /** @default the container's name */
  hostname?: string;
  /**
   * Mount the root filesystem read-only. An image container's root is writable by default, as
   * images are written for (a per-container overlay over the shared unpacked image); a host
   * program's root is read-only. @default false for images, true for host programs
   */
  readonly?: boolean;
  /**
   * Namespaced kernel parameters, as docker's `--sysctl`: `net.*` (not with network "host"),
   * `kernel.shm*`, `kernel.msg*`, `kernel.sem` and `fs.mqueue.*`. A container with a network
   * namespace of its own already gets docker's two: `net.ipv4.ip_unprivileged_port_start=0`
   * (any user may bind ports below 1024 inside) and `net.ipv4.ping_group_range` (any group may
   * ping). @default {}
   */
  sysctls?: Record<string, string | number>;
  /**
   * The size of /dev/shm, in bytes or e.g. "256m", as compose's `shm_size`: databases (PostgreSQL's
   * parallel queries) and video tools need more than the default. @default "64m" (docker's)
   */
  shmSize?: number | string;
  /**
   * The container's resolv.conf, as compose's `dns`, `dns_search` and `dns_opt`: `servers`
   * (addresses) replace the host's nameservers, `search` its search domains, and `options` are
   * added (`ndots:2`, `edns0`). @default the host's (its usable nameservers)
   */
  dns?: DnsConfig;
  /**
   * More lines for the container's /etc/hosts, as compose's `extra_hosts` and docker's
   * `--add-host`: a name -> an address (or several, e.g. an IPv4 and an IPv6 one). The address
   * "host-gateway" is the host as the container reaches it: 127.0.0.1 on network "host", the
   * host's end of the link on "private", the bridge of the container's first named network.
   * @default {}
   */
  extraHosts?: Record<string, string | string[]>;
  /**
   * Supplementary groups of the process, as compose's `group_add`: group ids, or names in the
   * image's /etc/group (the host's, for a host program), e.g. `["video", 993]`. @default []
   */
  groupAdd?: (string | number)[];
  /**
   * "host": share the host's process namespace, as compose's `pid: host` (monitoring tools such
   * as netdata): the container sees every process of the host, and as root may signal them.
   * @default a namespace of its own
   */
  pid?: "host";
  /**
   * Resource limits of the container's processes (setrlimit), as compose's `ulimits`: a name
   * (nofile, nproc, memlock, core, stack, ...) -> one number for both, or `{ soft, hard }`;
   * -1 or "unlimited" for no limit (not nofile). A limit above this host's own hard limit gets
   * the host's, and the build says so. @default { nofile: 1024 }
   */
  ulimits?: Record<string, UlimitValue | { soft: UlimitValue; hard: UlimitValue }>;
  /**
   * Run a small init (Debian's tini) as PID 1 that reaps zombies and passes signals on to the
   * program, as `docker run --init` and Quadlet's `RunInit=` do. @default false
   */
  init?: boolean;
  /** Must be "linux". @default "linux" */
  os?: string;
  /** Must be this host's architecture for host programs. @default the host's */
  arch?: string;
  /** Names of containers this one starts after. @default [] */
  dependsOn?: string[];
  /** Start at boot. @default true */
  autoStart?: boolean;
  /**
   * When to contact the registry at build time (never at start): "missing" pulls what the lock
   * or store lacks; "always" re-resolves the tag at every build; "newer" does too but keeps the
   * locked image when the registry is unreachable; "never" fails instead of pulling.
   * @default "missing"
   */
  pull?: PullPolicy;
  /** Labels, written as OCI annotations. @default {} */
  labels?: Record<string, string>;
  /**
   * Capability name -> true (add) or false (drop), on top of the default set: for images,
   * podman's (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, NET_BIND_SERVICE, SETFCAP, SETGID,
   * SETPCAP, SETUID, SYS_CHROOT), what official images' root entrypoints need to chown their
   * data and drop to a service user; for host programs, runc's (AUDIT_WRITE, KILL,
   * NET_BIND_SERVICE). @default {}
   */
  capabilities?: Record<string, boolean>;
  /**
   * Devices: host device nodes (`"/dev/fuse"`, `"/dev/host:/dev/container[:rwm]"`) and CDI
   * devices by name (`"nvidia.com/gpu=all"`), whose spec (in `cdiSpecDirs`) lists the nodes,
   * mounts, environment and hooks they need. @default []
   */
  devices?: string[];
  /** What systemd does when the container exits. @default "always" */
  restart?: RestartPolicy;
  /** Signal that asks the program to stop. @default "SIGTERM" */
  stopSignal?: string;
  /** Seconds to wait after stopSignal before SIGKILL. @default 10 */
  stopTimeout?: number;
  /**
   * How long the service must stay up after a switch starts it before the switch counts it as
   * started: seconds or a duration ("10s"). A service with a healthcheck has settled once it is
   * healthy. @default "3s" (0 with a healthcheck)
   */
  settle?: number | string;
  /**
   * "none", "host", "private" or a network declared under `networks` (see NetworkMode).
   * @default "private" for an image (docker's and podman's default: a way out) or a container that publishes ports, else "none" (a host program: runc's default, its own namespace with only loopback)
   */
  network?: NetworkMode;
  /**
   * The named networks the container is on, instead of `network`, for one on several networks or
   * with aliases: a list of names, or names -> `{ aliases }`. The container has an interface on
   * each and reaches each network's members by name and alias; the first network carries its
   * default route and its published ports. @default just `network`
   */
  networks?: string[] | Record<string, NetworkAttachmentConfig>;
  /**
   * The seccomp filter: "default" (an allowlist as strong as docker's default profile, with the
   * syscalls of a capability allowed only when the container holds it), "unconfined" (none), or
   * the absolute path of a profile in docker/podman or OCI JSON form, read at build time.
   * @default "default"
   */
  seccomp?: string;
  /** cgroup limits. @default {} */
  resources?: ResourcesConfig;
  /** Which engine runs this container. @default the top-level backend */
  backend?: Backend;
  /** The systemd unit's name. @default "railyard-<name>.service" */
  serviceName?: string;
}

/** Durations are seconds, or a string such as "30s", "1m30s" or "500ms". */
export interface HealthcheckConfig {
  /** Run inside the container; exit status 0 means healthy. An argv, or a string for `/bin/sh -c`. */
  test: string | string[];
  /** Time between checks. @default "30s" */
  interval?: number | string;
  /** Time one check may take before it counts as failed. @default "30s" */
  timeout?: number | string;
  /** Failures in a row that make the container unhealthy. @default 3 */
  retries?: number;
  /** Time after start during which failures do not count. @default "0s" */
  startPeriod?: number | string;
}

/** One secret in a container (compose's long syntax). */
export interface ContainerSecretConfig {
  /** The name under the top-level `secrets`. */
  source: string;
  /** A file name under /run/secrets, or an absolute path. @default the source's name */
  target?: string;
  /** @default 0 */
  uid?: number;
  /** @default 0 */
  gid?: number;
  /** File mode, a number (0o440) or an octal string ("0440"). @default 0o444 */
  mode?: number | string;
}

/** A secret's value on the host: a file, or a credential made by `systemd-creds encrypt`. */
export interface SecretConfig {
  /** An absolute path; read by systemd when a service that uses it starts. */
  file?: string;
  /** An absolute path of an encrypted credential (`systemd-creds encrypt`). */
  encrypted?: string;
}

export type PullPolicy = "missing" | "always" | "newer" | "never";

/** NixOS oci-containers' `login`. */
export interface LoginConfig {
  /** @default the image's registry */
  registry?: string;
  username: string;
  /** A file holding the password (or token). */
  passwordFile: string;
}

export interface RegistryConfig {
  /** Talk plain HTTP to this registry. Only for registries you trust on a trusted network. @default false */
  insecure?: boolean;
}

export type RuntimeName = "auto" | "runc" | "crun";
export type Backend = "oci" | "docker" | "podman";

/** A Dockerfile build (as compose's `build:`). */
export interface BuildConfig {
  /**
   * The build context: a directory, relative to the config file or absolute; or a git
   * repository as docker writes one (`https://host/repo.git#ref:subdir`, `ssh://`, `git@host:`),
   * fetched with git at the first build and again at `railyard update`.
   */
  context: string;
  /** The Dockerfile, relative to the context or absolute. @default Containerfile or Dockerfile */
  dockerfile?: string;
  /** `ARG` values. @default {} */
  args?: Record<string, string>;
  /** The stage to build, for a multi-stage Dockerfile. @default the last */
  target?: string;
}

export interface UserConfig {
  /** The containers, by name. Names become unit and directory names. @default {} */
  containers?: Record<string, ContainerConfig>;
  /** OCI runtime. "auto" prefers crun where it works on this host, else runc. @default "auto" */
  runtime?: RuntimeName;
  /**
   * Where bundles and state live. `railyard --user` ignores it and uses
   * $XDG_STATE_HOME/railyard (or --state-dir), so one config serves both. @default "/var/lib/railyard"
   */
  stateDir?: string;
  /** Default engine for containers: the OCI runtime directly, or docker/podman. @default "oci" */
  backend?: Backend;
  /** Per-registry settings, by host[:port], e.g. `{ "127.0.0.1:5000": { insecure: true } }`. @default {} */
  registries?: Record<string, RegistryConfig>;
  /**
   * Named networks, by name (up to 12 of a-z, 0-9, "-" and "_"). Containers join one with
   * `network: "<name>"`; its members reach each other by container name. @default {}
   */
  networks?: Record<string, NetworkConfig>;
  /** Secrets by name (letters, digits, `_ . -`): where each one's value lives on the host. @default {} */
  secrets?: Record<string, SecretConfig>;
  /**
   * A command run when a switch or `railyard update` fails and is rolled back, and when systemd
   * gives up restarting a service: a string for `/bin/sh -c`, or an argv. Its environment says
   * what happened: RAILYARD_EVENT, RAILYARD_GENERATION, RAILYARD_SERVICES, RAILYARD_REASON.
   */
  onFailure?: string | string[];
  /**
   * Where CDI device specs are read from, lowest priority first: a device defined again in a
   * later directory overrides the earlier one (as podman's `cdi_spec_dirs`).
   * @default ["/etc/cdi", "/var/run/cdi"]
   */
  cdiSpecDirs?: string[];
  /**
   * The project's name (1-32 of a-z, 0-9, "-" and "_", from a letter or digit), as compose's:
   * units are `railyard-PROJECT-NAME.service` and runtime ids `railyard-PROJECT-NAME`, and the
   * state dir defaults to `/var/lib/railyard/projects/PROJECT`, so two projects that each have
   * a `db` run side by side. The verbs take the short name. Without it, names are as they were.
   */
  project?: string;
}

/** A bind or special mount after resolution: destination inside, source outside. */
export interface ResolvedMount {
  readonly destination: string;
  readonly type: string;
  readonly source: string;
  readonly options: readonly string[];
  /** Where this mount was declared, for error messages. */
  readonly origin: string;
}

export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
  /** The name shown in the container's /etc/passwd. */
  readonly name: string;
  readonly group: string;
}

export interface ResolvedDevice {
  readonly hostPath: string;
  readonly path: string;
  readonly access: string;
}

/** Where an image container's image comes from, and how its process is overridden. */
export interface ResolvedImage {
  /** The normalised reference, e.g. "docker.io/library/busybox:latest". */
  readonly ref: string;
  /** Archive to import instead of pulling (path, or "oci:DIR[:TAG]"). */
  readonly file?: string;
  /** Built from a Dockerfile instead of pulled. */
  readonly build?: ResolvedBuild;
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly pull: PullPolicy;
  readonly login?: {
    readonly registry: string;
    readonly username: string;
    readonly passwordFile: string;
  };
}

/** A Dockerfile build with absolute paths (or a git repository's, fetched at build). */
export interface ResolvedBuild {
  /** An absolute directory; for a git context, the URL as written (see `git`). */
  readonly context: string;
  /**
   * Absolute; unset means the builder's default (Containerfile, else Dockerfile, in the context).
   * For a git context, relative to the context's directory in the checkout.
   */
  readonly dockerfile?: string;
  /** A git repository as the context: fetched with git at build, then built like a directory. */
  readonly git?: GitContext;
  readonly args: Readonly<Record<string, string>>;
  readonly target?: string;
}

/** One secret in a container, with its defaults applied. */
export interface ResolvedSecretMount {
  readonly source: string;
  /** Absolute path inside the container. */
  readonly target: string;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

/** A healthcheck with its defaults applied; durations in milliseconds. */
export interface ResolvedHealthcheck {
  /** An argv, or a string for `/bin/sh -c` (kept apart so that exports keep the form). */
  readonly test: string | readonly string[];
  readonly interval: number;
  readonly timeout: number;
  readonly retries: number;
  readonly startPeriod: number;
}

export interface ResolvedContainer {
  readonly name: string;
  /** Set for image containers; host-program containers have `args` instead. */
  readonly image?: ResolvedImage;
  /** The host program and its arguments ([] for image containers). */
  readonly args: readonly string[];
  readonly closure: "elf" | "packages";
  readonly include: readonly string[];
  /** What was taken from the host's packages and unit (`service`), and from where. */
  readonly fromHost?: FromHost;
  readonly environment: Readonly<Record<string, string>>;
  readonly environmentFiles: readonly string[];
  readonly mounts: readonly ResolvedMount[];
  /** The resolved user; unset only for image containers, which then take the image's User. */
  readonly user?: ResolvedUser;
  /** An image container's user given by name: looked up in the image's /etc/passwd at build. */
  readonly userSpec?: string;
  /** Unset only for image containers, which then take the image's WorkingDir. */
  readonly workdir?: string;
  readonly hostname: string;
  readonly readonly: boolean;
  readonly os: string;
  readonly arch: string;
  readonly dependsOn: readonly string[];
  readonly autoStart: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly capabilities: Readonly<Record<string, boolean>>;
  /** `sysctls` as given (railyard's namespace defaults are added in the spec). */
  readonly sysctls: Readonly<Record<string, string>>;
  /** /dev/shm's size in bytes, when the config sets it (else 64 MiB). */
  readonly shmSize?: number;
  /** The config's `dns`, when it sets any: what the container's resolv.conf says instead. */
  readonly dns?: {
    readonly servers: readonly string[];
    readonly search: readonly string[];
    readonly options: readonly string[];
  };
  /** `extraHosts` as name/address pairs in the order given; an address may be "host-gateway". */
  readonly extraHosts?: readonly { readonly name: string; readonly address: string }[];
  /** `groupAdd` when given: ids, and for an image the names its /etc/group resolves at build. */
  readonly groupAdd?: readonly (string | number)[];
  /** "host" when the container shares the host's process namespace. */
  readonly pid?: "host";
  /** `ulimits` by compose's name (`nofile`), when the config sets any; -1 is unlimited. */
  readonly ulimits?: Readonly<Record<string, { readonly soft: number; readonly hard: number }>>;
  readonly init: boolean;
  readonly devices: readonly ResolvedDevice[];
  /** CDI devices by qualified name, in the order given (resolved against the specs at build). */
  readonly cdiDevices: readonly string[];
  readonly restart: RestartPolicy;
  /** Unset only for image containers, which then take the image's StopSignal. */
  readonly stopSignal?: string;
  readonly stopTimeout: number;
  /** For a container on named networks, the first of them. */
  readonly network: NetworkMode;
  /** The named networks the container is on, `network` first; empty on any other network. */
  readonly networks: readonly ResolvedAttachment[];
  /** "default", "unconfined", or the absolute path of a profile file. */
  readonly seccomp: string;
  readonly ports: readonly PortSpec[];
  readonly healthcheck?: ResolvedHealthcheck;
  /** Secrets mounted read-only at start (see ContainerConfig.secrets). */
  readonly secrets: readonly ResolvedSecretMount[];
  /** `settle` in milliseconds, when the config gives it. */
  readonly settle?: number;
  readonly resources: {
    readonly memory?: number;
    readonly cpus?: number;
    readonly pids?: number;
  };
  readonly backend: Backend;
  /** The systemd unit, e.g. "railyard-web.service". */
  readonly serviceName: string;
}

/** A declared network: what the config gives; the rest is allocated at build. */
export interface ResolvedNetwork {
  readonly subnet?: string;
  /** Dual stack: an IPv6 subnet, or true for a unique local /64 allocated at build. */
  readonly ipv6?: string | true;
}

/** A container's place on a named network. */
export interface ResolvedAttachment {
  readonly name: string;
  readonly aliases: readonly string[];
}

/** A range of subordinate ids from /etc/subuid or /etc/subgid. */
export interface IdRange {
  readonly start: number;
  readonly count: number;
}

/**
 * How railyard runs for `--user`: as this non-root user, under its systemd user manager, with
 * container ids 0 → the user and 1..count → the subordinate range (a user namespace).
 */
export interface RootlessScope {
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  readonly subuid: IdRange;
  readonly subgid: IdRange;
  /** $XDG_RUNTIME_DIR (/run/user/UID): the user manager's runtime dir, runc's state, PID files. */
  readonly runtimeDir: string;
  /** Where the user manager reads units: $XDG_CONFIG_HOME/systemd/user. */
  readonly unitDir: string;
}

export interface ResolvedConfig {
  /** The file the config was read from. */
  readonly file: string;
  /** Set under `railyard --user`: the rootless scope every bundle and unit is built for. */
  readonly rootless?: RootlessScope;
  /** Set when the state dir is not the default: runtime ids carry it (see runtime/oci.ts). */
  readonly idScope?: string;
  /** The config's `project`: units and runtime ids carry it instead (see runtime/oci.ts). */
  readonly project?: string;
  readonly containers: Readonly<Record<string, ResolvedContainer>>;
  readonly runtime: RuntimeName;
  readonly stateDir: string;
  readonly backend: Backend;
  readonly registries: Readonly<Record<string, { readonly insecure: boolean }>>;
  /** Declared networks; a subnet only where the config gives one (the rest is allocated at build). */
  readonly networks: Readonly<Record<string, ResolvedNetwork>>;
  /** Secrets by name: exactly one of file and encrypted, an absolute path. */
  readonly secrets: Readonly<
    Record<string, { readonly file?: string; readonly encrypted?: string }>
  >;
  /** The command to run on a failed switch or a service systemd gave up on (see UserConfig). */
  readonly onFailure?: string | readonly string[];
  /** Where CDI specs are read from, lowest priority first. */
  readonly cdiSpecDirs: readonly string[];
}
