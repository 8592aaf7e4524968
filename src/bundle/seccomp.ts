/**
 * Seccomp for the OCI spec (pure). The default profile is an allowlist as strong as the one
 * docker ships (moby's profiles/seccomp/default.json): everything else fails with EPERM, the
 * syscalls that only make sense with a capability are allowed only when the container holds it,
 * namespace creation (clone flags, unshare, setns) and mounts need CAP_SYS_ADMIN, and clone3
 * says ENOSYS so that libc falls back to the clone it can check. Like Debian's podman profile
 * (and docker since 25.0), it denies io_uring, whose kernel side has been a steady source of
 * privilege escalations; like podman's, vmsplice and io_pgetevents. A custom profile in docker's
 * format (includes/excludes by capability and architecture) or in OCI form is converted here.
 */
import { isRecord } from "../util/record.js";

export interface SeccompArg {
  readonly index: number;
  readonly value: number;
  readonly valueTwo?: number;
  readonly op: string;
}
export interface SeccompRule {
  readonly names: readonly string[];
  readonly action: string;
  readonly errnoRet?: number;
  readonly args?: readonly SeccompArg[];
}
export interface OciSeccomp {
  readonly defaultAction: string;
  readonly defaultErrnoRet?: number;
  readonly architectures: readonly string[];
  readonly syscalls: readonly SeccompRule[];
}

const EPERM = 1;
const ENOSYS = 38;
const AF_VSOCK = 40;
/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET: none may be set. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/**
 * The seccomp architecture of each OCI architecture. Only the native one: a 32-bit (or x32)
 * program's syscalls are refused, which shuts the compat syscall paths and halves the filter
 * runc compiles at every start (measured: 53 -> 38 ms to first output; bench/README.md).
 */
export const SECCOMP_ARCHES: Readonly<Record<string, readonly string[]>> = {
  amd64: ["SCMP_ARCH_X86_64"],
  "386": ["SCMP_ARCH_X86"],
  arm64: ["SCMP_ARCH_AARCH64"],
  arm: ["SCMP_ARCH_ARM"],
  ppc64le: ["SCMP_ARCH_PPC64LE"],
  s390x: ["SCMP_ARCH_S390X"],
  riscv64: ["SCMP_ARCH_RISCV64"],
};

/** What any program may call: no capability needed, nothing that reaches outside the container. */
const ALLOWED =
  `accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2
dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64
fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64
fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs
fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd
getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32
getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32
getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt
get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init
inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown
lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr
lstat lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat
mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv
msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open
openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect
poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6
pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom
recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat renameat2
restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn
rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity
sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send
sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid
setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid
setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt
set_thread_area set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown
sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64
statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time
timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime
utimensat utimensat_time64 utimes vfork wait4 waitid waitpid write writev
process_vm_readv process_vm_writev ptrace`.split(/\s+/);

/** Syscalls of one architecture family. */
const BY_ARCH: Readonly<Record<string, readonly string[]>> = {
  amd64: ["arch_prctl", "modify_ldt"],
  "386": ["modify_ldt"],
  arm64: ["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"],
  arm: ["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"],
  ppc64le: ["sync_file_range2", "swapcontext"],
  s390x: ["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"],
  riscv64: ["riscv_flush_icache"],
}; // prettier-ignore

/** Syscalls allowed only to a container that holds the capability. */
const BY_CAPABILITY: Readonly<Record<string, readonly string[]>> = {
  CAP_DAC_READ_SEARCH: ["open_by_handle_at"],
  CAP_SYS_ADMIN: [
    "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
    "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
    "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount",
    "umount2", "unshare",
  ],
  CAP_SYS_BOOT: ["reboot"],
  CAP_SYS_CHROOT: ["chroot"],
  CAP_SYS_MODULE: ["delete_module", "init_module", "finit_module"],
  CAP_SYS_PACCT: ["acct"],
  CAP_SYS_PTRACE: ["kcmp", "pidfd_getfd", "process_madvise"],
  CAP_SYS_RAWIO: ["iopl", "ioperm"],
  CAP_SYS_TIME: ["settimeofday", "stime", "clock_settime", "clock_settime64"],
  CAP_SYS_TTY_CONFIG: ["vhangup"],
  CAP_SYS_NICE: ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"],
  CAP_SYSLOG: ["syslog"],
  CAP_BPF: ["bpf"],
  CAP_PERFMON: ["perf_event_open"],
}; // prettier-ignore

/** personality(2) values programs use harmlessly: PER_LINUX, PER_LINUX32, UNAME26 and queries. */
const PERSONALITIES = [0, 8, 0x20000, 0x20008, 0xffffffff];

const unique = (xs: readonly string[]) => [...new Set(xs)];

/** railyard's default profile for a container holding `caps` on `arch`. */
export function defaultSeccomp(caps: readonly string[], arch: string): OciSeccomp {
  const held = new Set(caps);
  const capNames = unique(
    Object.entries(BY_CAPABILITY).flatMap(([cap, names]) => (held.has(cap) ? names : [])),
  );
  const sysAdmin = held.has("CAP_SYS_ADMIN");
  const s390 = arch === "s390x";
  const syscalls: SeccompRule[] = [
    {
      names: unique([...ALLOWED, ...(BY_ARCH[arch] ?? []), ...capNames]).sort(),
      action: "SCMP_ACT_ALLOW",
    },
    // Every socket but AF_VSOCK, which reaches the hypervisor.
    {
      names: ["socket"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: AF_VSOCK, op: "SCMP_CMP_NE" }],
    },
    ...PERSONALITIES.map((value) => ({
      names: ["personality"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value, op: "SCMP_CMP_EQ" }],
    })),
    ...(sysAdmin
      ? []
      : [
          // clone without namespace flags (s390 passes the flags second).
          {
            names: ["clone"],
            action: "SCMP_ACT_ALLOW",
            args: [
              {
                index: s390 ? 1 : 0,
                value: CLONE_NAMESPACE_FLAGS,
                valueTwo: 0,
                op: "SCMP_CMP_MASKED_EQ",
              },
            ],
          },
          // clone3's flags sit in memory seccomp cannot read: ENOSYS makes libc use clone.
          { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS },
        ]),
  ];
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: EPERM,
    architectures: SECCOMP_ARCHES[arch] ?? [],
    syscalls,
  };
}

type Json = Record<string, unknown>;

/** Docker's architecture names in includes/excludes, by OCI architecture. */
const DOCKER_ARCH: Readonly<Record<string, string>> = { "386": "x86", amd64: "amd64" };

/**
 * A profile file in docker/podman form (`archMap`, rules with `includes`/`excludes` by `caps`
 * and `arches`, `name` or `names`) or in OCI form, for a container holding `caps` on `arch`.
 * Returns a problem instead when the file is not a profile.
 */
export function convertSeccomp(
  profile: unknown,
  caps: readonly string[],
  arch: string,
): { ok: true; value: OciSeccomp } | { ok: false; error: string } {
  if (!isRecord(profile) || typeof profile["defaultAction"] !== "string")
    return { ok: false, error: 'not a seccomp profile: expected an object with "defaultAction"' };
  if (!Array.isArray(profile["syscalls"] ?? []))
    return { ok: false, error: '"syscalls" must be a list' };
  const held = new Set(caps);
  const archName = DOCKER_ARCH[arch] ?? arch;
  const applies = (cond: unknown, include: boolean) => {
    if (!isRecord(cond)) return true;
    const c = (cond["caps"] as string[] | undefined) ?? [];
    const a = (cond["arches"] as string[] | undefined) ?? [];
    return include
      ? c.every((x) => held.has(x)) && (a.length === 0 || a.includes(archName))
      : !(c.length > 0 && c.some((x) => held.has(x))) && !(a.length > 0 && a.includes(archName));
  };
  const syscalls: SeccompRule[] = [];
  for (const [i, raw] of ((profile["syscalls"] as unknown[]) ?? []).entries()) {
    if (!isRecord(raw) || typeof raw["action"] !== "string")
      return { ok: false, error: `syscalls[${i}]: expected an object with "action"` };
    if (!applies(raw["includes"], true) || !applies(raw["excludes"], false)) continue;
    const names = Array.isArray(raw["names"])
      ? (raw["names"] as string[])
      : typeof raw["name"] === "string"
        ? [raw["name"]]
        : [];
    if (names.length === 0) return { ok: false, error: `syscalls[${i}]: expected "names"` };
    const args = Array.isArray(raw["args"]) ? (raw["args"] as SeccompArg[]) : [];
    syscalls.push({
      names,
      action: raw["action"],
      ...(typeof raw["errnoRet"] === "number" ? { errnoRet: raw["errnoRet"] } : {}),
      ...(args.length > 0
        ? {
            args: args.map((a) => ({
              index: a.index,
              value: a.value,
              ...(a.valueTwo ? { valueTwo: a.valueTwo } : {}),
              op: a.op,
            })),
          }
        : {}),
    });
  }
  const archMap = Array.isArray(profile["archMap"]) ? (profile["archMap"] as Json[]) : [];
  const own = SECCOMP_ARCHES[arch]?.[0];
  const mapped = archMap.find((m) => m["architecture"] === own);
  const architectures = Array.isArray(profile["architectures"])
    ? (profile["architectures"] as string[])
    : mapped
      ? [own as string, ...((mapped["subArchitectures"] as string[] | null) ?? [])]
      : (SECCOMP_ARCHES[arch] ?? []);
  return {
    ok: true,
    value: {
      defaultAction: profile["defaultAction"],
      ...(typeof profile["defaultErrnoRet"] === "number"
        ? { defaultErrnoRet: profile["defaultErrnoRet"] }
        : {}),
      architectures,
      syscalls,
    },
  };
}
