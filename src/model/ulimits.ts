/** The process resource limits a container may set (setrlimit), by the names compose uses. */

/** compose's ulimit names -> the kernel's RLIMIT_ names, as docker's `--ulimit` takes them. */
export const ULIMITS: Readonly<Record<string, string>> = {
  as: "RLIMIT_AS",
  core: "RLIMIT_CORE",
  cpu: "RLIMIT_CPU",
  data: "RLIMIT_DATA",
  fsize: "RLIMIT_FSIZE",
  locks: "RLIMIT_LOCKS",
  memlock: "RLIMIT_MEMLOCK",
  msgqueue: "RLIMIT_MSGQUEUE",
  nice: "RLIMIT_NICE",
  nofile: "RLIMIT_NOFILE",
  nproc: "RLIMIT_NPROC",
  rss: "RLIMIT_RSS",
  rtprio: "RLIMIT_RTPRIO",
  rttime: "RLIMIT_RTTIME",
  sigpending: "RLIMIT_SIGPENDING",
  stack: "RLIMIT_STACK",
};

/** The kernel's nr_open ceiling: no process may have more open files (fs/file.c). */
export const MAX_NOFILE = 1 << 30;
