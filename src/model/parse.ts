/**
 * Small pure parsers for the string syntaxes the config accepts (volumes, devices, sizes,
 * signals, capabilities). Each returns a value or an error message; none throws.
 */

import { formatIPv6, parseIPv6 } from "./address.js";

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };
const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

/** Container names become unit names (`railyard-<name>.service`) and directory names. */
export const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

export function checkName(name: string): string | undefined {
  if (NAME_PATTERN.test(name) && name !== "." && name !== "..") return undefined;
  return (
    `${JSON.stringify(name)} is not a valid container name. ` +
    "expected 1-63 characters from a-z A-Z 0-9 _ . -, starting with a letter or digit " +
    "(it becomes a systemd unit name and a directory name)"
  );
}

/** An absolute path with no `.`/`..` segments, no empty segments and no trailing slash. */
export function checkAbsolutePath(p: string): string | undefined {
  if (!p.startsWith("/")) return `${JSON.stringify(p)} must be an absolute path`;
  if (p.includes("\0")) return `${JSON.stringify(p)} contains a NUL byte`;
  const segments = p.split("/").slice(1);
  if (p !== "/" && segments.some((s) => s === "" || s === "." || s === ".."))
    return `${JSON.stringify(p)} must be a normalised absolute path (no "//", ".", ".." or trailing "/")`;
  return undefined;
}

/**
 * A path as docker cleans it before use: repeated and trailing slashes and "." segments dropped
 * (`/etc/pihole/` -> `/etc/pihole`). ".." is left alone, for `checkAbsolutePath` to refuse.
 */
export function cleanPath(p: string): string {
  if (!p.startsWith("/") || p.split("/").includes("..")) return p;
  const segs = p.split("/").filter((s) => s !== "" && s !== ".");
  return `/${segs.join("/")}`;
}

export interface VolumeSpec {
  readonly source: string;
  readonly destination: string;
  readonly readonly: boolean;
}

/** `"/host:/container[:ro|:rw]"` as in docker and NixOS oci-containers. */
export function parseVolume(spec: string): Parsed<VolumeSpec> {
  const parts = spec.split(":");
  if (parts.length < 2 || parts.length > 3)
    return fail(
      `${JSON.stringify(spec)} is not a volume. expected "/host/path:/container/path[:ro|:rw]"`,
    );
  const [rawSource = "", rawDestination = "", mode = "rw"] = parts;
  const source = cleanPath(rawSource);
  const destination = cleanPath(rawDestination);
  if (!source.startsWith("/"))
    return fail(
      `${JSON.stringify(spec)}: source ${JSON.stringify(source)} must be an absolute host path ` +
        "(named volumes are not supported yet)",
    );
  const bad = checkAbsolutePath(source) ?? checkAbsolutePath(destination);
  if (bad) return fail(`${JSON.stringify(spec)}: ${bad}`);
  if (mode !== "ro" && mode !== "rw")
    return fail(
      `${JSON.stringify(spec)}: mode ${JSON.stringify(mode)} is not allowed. expected "ro" or "rw"`,
    );
  return ok({ source, destination, readonly: mode === "ro" });
}

export interface PortSpec {
  /**
   * The host address to bind. Unset means 127.0.0.1 ({@link DEFAULT_HOST_IP}): published ports
   * bypass the host firewall, so a port is only public when an address says so.
   */
  readonly hostIp?: string;
  /** The host port; unset means the container port's own number. */
  readonly hostPort?: number;
  readonly containerPort: number;
  readonly protocol: "tcp" | "udp";
}

/**
 * `"[ip:][hostPort:]containerPort[/tcp|/udp]"`, compose's short syntax, where each port may be a
 * range (`"8000-8010:9000-9010"`): one PortSpec per port, a host range of the same length as
 * the container's.
 */
export function parsePorts(spec: string): Parsed<PortSpec[]> {
  const expected =
    'expected "[ip:][hostPort:]containerPort[/tcp|/udp]", e.g. "127.0.0.1:8080:80" or "8000-8010:8000-8010"';
  const m =
    /^(?:(?:\[([0-9a-fA-F:]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):)?(?:(\d+)(?:-(\d+))?:)?(\d+)(?:-(\d+))?(?:\/(tcp|udp))?$/.exec(
      spec,
    );
  if (!m) return fail(`${JSON.stringify(spec)} is not a port. ${expected}`);
  const [, ip6, ip4, hostFirst, hostLast, first = "", last, proto = "tcp"] = m;
  const port = (s: string) => {
    const n = Number(s);
    return n >= 1 && n <= 65535 ? n : undefined;
  };
  const cFirst = port(first);
  const cLast = last === undefined ? cFirst : port(last);
  const hFirst = hostFirst === undefined ? undefined : port(hostFirst);
  const hLast = hostLast === undefined ? hFirst : port(hostLast);
  if (
    cFirst === undefined ||
    cLast === undefined ||
    (hostFirst !== undefined && (hFirst === undefined || hLast === undefined))
  )
    return fail(`${JSON.stringify(spec)}: ports are 1 to 65535. ${expected}`);
  if (cLast < cFirst || (hFirst !== undefined && (hLast as number) < hFirst))
    return fail(`${JSON.stringify(spec)}: a range runs from the lower port to the higher`);
  if (hFirst !== undefined && (hLast as number) - hFirst !== cLast - cFirst)
    return fail(
      `${JSON.stringify(spec)}: the host range has ${(hLast as number) - hFirst + 1} ports and the container range ${cLast - cFirst + 1}. give ranges of the same length`,
    );
  if (ip4 !== undefined && ip4.split(".").some((o) => Number(o) > 255))
    return fail(`${JSON.stringify(spec)}: ${ip4} is not an IPv4 address. ${expected}`);
  const v6 = ip6 === undefined ? undefined : parseIPv6(ip6);
  if (ip6 !== undefined && v6 === undefined)
    return fail(`${JSON.stringify(spec)}: ${ip6} is not an IPv6 address. ${expected}`);
  // One spelling per address (RFC 5952), so that the same address is seen as the same.
  const hostIp = v6 !== undefined ? formatIPv6(v6) : ip4;
  const out: PortSpec[] = [];
  for (let i = 0; i <= cLast - cFirst; i++)
    out.push({
      ...(hostIp !== undefined ? { hostIp } : {}),
      ...(hFirst !== undefined ? { hostPort: hFirst + i } : {}),
      containerPort: cFirst + i,
      protocol: proto as "tcp" | "udp",
    });
  return ok(out);
}

/** One port (no range) in compose's short syntax; see {@link parsePorts}. */
export function parsePort(spec: string): Parsed<PortSpec> {
  const p = parsePorts(spec);
  if (!p.ok) return p;
  const [one, ...more] = p.value;
  if (one === undefined || more.length > 0)
    return fail(`${JSON.stringify(spec)} is a range of ports; one port is expected here`);
  return ok(one);
}

/** Where a port without an address is published: loopback only (NixOS's lesson, see #7). */
export const DEFAULT_HOST_IP = "127.0.0.1";

/** The host address a port is published on: its own, else {@link DEFAULT_HOST_IP}. */
export const publishedIp = (p: PortSpec): string => p.hostIp ?? DEFAULT_HOST_IP;
/** The host port a port is published on: its own, else the container port's number. */
export const publishedPort = (p: PortSpec): number => p.hostPort ?? p.containerPort;
/** Where a port is published, as messages name it: `127.0.0.1:8080/tcp`. */
export const formatPublished = (p: PortSpec): string => {
  const ip = publishedIp(p);
  return `${ip.includes(":") ? `[${ip}]` : ip}:${publishedPort(p)}/${p.protocol}`;
};

/**
 * A port in compose's short syntax with the address and host port always written: compose
 * would publish a port without an address on every address, and pick a random host port.
 */
export function formatPort(p: PortSpec): string {
  const host = publishedIp(p);
  const ip = host.includes(":") ? `[${host}]:` : `${host}:`;
  const proto = p.protocol === "udp" ? "/udp" : "";
  return `${ip}${publishedPort(p)}:${p.containerPort}${proto}`;
}

/**
 * Ports as the fewest specs of {@link formatPort}'s form: a run of consecutive ports with the same
 * address and protocol, whose host ports are consecutive too, is written as one range
 * (`"127.0.0.1:8000-8010:8000-8010"`), as the config gave it.
 */
export function formatPorts(ports: readonly PortSpec[]): string[] {
  const runs: PortSpec[][] = [];
  for (const p of ports) {
    const run = runs[runs.length - 1];
    const prev = run?.[run.length - 1];
    if (
      run &&
      prev &&
      publishedIp(prev) === publishedIp(p) &&
      prev.protocol === p.protocol &&
      p.containerPort === prev.containerPort + 1 &&
      publishedPort(p) === publishedPort(prev) + 1
    )
      run.push(p);
    else runs.push([p]);
  }
  return runs.map((run) => {
    const first = run[0] as PortSpec;
    const last = run[run.length - 1] as PortSpec;
    if (run.length === 1) return formatPort(first);
    const host = publishedIp(first);
    const ip = host.includes(":") ? `[${host}]:` : `${host}:`;
    const proto = first.protocol === "udp" ? "/udp" : "";
    return `${ip}${publishedPort(first)}-${publishedPort(last)}:${first.containerPort}-${last.containerPort}${proto}`;
  });
}

/** The options railyard puts in front of every tmpfs's own. */
export const TMPFS_DEFAULT_OPTIONS: readonly string[] = ["nosuid", "nodev", "noexec"];

/** A tmpfs's `mode=` option: octal, as mount(8) takes it. */
const TMPFS_MODE_OPTION = /^mode=([0-7]{1,4})$/;

/** A tmpfs's mode without `mode=`: world-writable and sticky, as docker's `--tmpfs` and /tmp. */
export const TMPFS_DEFAULT_MODE = 0o1777;

/** The mode a tmpfs's options ask for (`mode=0755`), else {@link TMPFS_DEFAULT_MODE}. */
export function tmpfsMode(options: readonly string[]): number {
  const m = options.map((o) => TMPFS_MODE_OPTION.exec(o)).find((x) => x !== null);
  return m ? parseInt(m[1] ?? "", 8) : TMPFS_DEFAULT_MODE;
}

/** `"/path[:opt,opt]"`, as docker's --tmpfs. */
export function parseTmpfs(spec: string): Parsed<{ destination: string; options: string[] }> {
  const idx = spec.indexOf(":");
  const destination = cleanPath(idx === -1 ? spec : spec.slice(0, idx));
  const bad = checkAbsolutePath(destination);
  if (bad) return fail(`${JSON.stringify(spec)}: ${bad}. expected "/path[:size=64m,mode=1777]"`);
  const options = idx === -1 ? [] : spec.slice(idx + 1).split(",");
  for (const o of options)
    if (!/^[a-z_]+(=[A-Za-z0-9._-]+)?$/.test(o))
      return fail(`${JSON.stringify(spec)}: ${JSON.stringify(o)} is not a tmpfs option`);
    else if (o.startsWith("mode=") && !TMPFS_MODE_OPTION.test(o))
      return fail(`${JSON.stringify(spec)}: ${JSON.stringify(o)}: a mode is octal, e.g. mode=0755`);
  return ok({ destination, options });
}

/** `"/dev/x"`, `"/dev/x:/dev/y"` or `"/dev/x:/dev/y:rwm"`, as docker's --device. */
export function parseDevice(
  spec: string,
): Parsed<{ hostPath: string; path: string; access: string }> {
  const [hostPath = "", path = hostPath, access = "rwm", ...rest] = spec.split(":");
  const usage = `expected "/dev/host[:/dev/container[:rwm]]"`;
  if (rest.length > 0) return fail(`${JSON.stringify(spec)} is not a device. ${usage}`);
  if (!hostPath.startsWith("/dev/") || checkAbsolutePath(hostPath))
    return fail(
      `${JSON.stringify(spec)}: host path must be an absolute path under /dev/. ${usage}`,
    );
  const badPath = checkAbsolutePath(path);
  if (badPath) return fail(`${JSON.stringify(spec)}: ${badPath}. ${usage}`);
  if (!/^(?!.*(.).*\1)[rwm]{1,3}$/.test(access))
    return fail(
      `${JSON.stringify(spec)}: access ${JSON.stringify(access)} must be letters from "rwm"`,
    );
  return ok({ hostPath, path, access });
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/** Bytes from a number or `"512m"`, `"2g"`, `"1.5GiB"` (binary units, as docker). */
export function parseSize(v: number | string): Parsed<number> {
  if (typeof v === "number")
    return Number.isSafeInteger(v) && v > 0
      ? ok(v)
      : fail(`${v} must be a positive whole number of bytes`);
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(v.trim());
  if (!m) return fail(`${JSON.stringify(v)} is not a size. expected bytes or e.g. "512m", "2g"`);
  const bytes = Math.floor(Number(m[1]) * (SIZE_UNITS[(m[2] ?? "").toLowerCase()] ?? 1));
  return bytes > 0 ? ok(bytes) : fail(`${JSON.stringify(v)} must be more than 0 bytes`);
}

const DURATION_UNITS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/**
 * Milliseconds from a number of seconds or a Go/compose duration: `"30s"`, `"1m30s"`, `"500ms"`,
 * `"1.5s"`, `"2h"`. Negative durations are refused; zero is allowed (the caller may refuse it).
 */
export function parseDuration(v: number | string): Parsed<number> {
  const expected = 'expected seconds or a duration such as "30s", "1m30s" or "500ms"';
  if (typeof v === "number")
    return Number.isFinite(v) && v >= 0
      ? ok(Math.round(v * 1000))
      : fail(`${v} is not a duration. ${expected}`);
  const s = v.trim();
  const part = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let ms = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = part.exec(s)) !== null) {
    ms += Number(m[1]) * (DURATION_UNITS[m[2] ?? ""] ?? 0);
    end = part.lastIndex;
  }
  if (s === "0") return ok(0);
  if (s === "" || end !== s.length)
    return fail(`${JSON.stringify(v)} is not a duration. ${expected}`);
  return ok(Math.round(ms));
}

/** Milliseconds as a Go duration, the form compose and Quadlet read: "1m30s", "1.5s", "500ms", "0s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return ms === 0 ? "0s" : `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const rest = ms % 60_000;
  return `${h > 0 ? `${h}h` : ""}${m > 0 ? `${m}m` : ""}${rest > 0 ? `${rest / 1000}s` : ""}`;
}

/** The inverse of `parseSize`: the largest binary unit that is exact, as docker writes sizes ("512m"). */
export function formatSize(bytes: number): string {
  for (const [unit, n] of [
    ["t", 1024 ** 4],
    ["g", 1024 ** 3],
    ["m", 1024 ** 2],
    ["k", 1024],
  ] as const)
    if (bytes % n === 0) return `${bytes / n}${unit}`;
  return String(bytes);
}

/** Linux signal numbers (x86/arm generic ABI), for stopSignal. */
export const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8,
  SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15,
  SIGSTKFLT: 16, SIGCHLD: 17, SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22,
  SIGURG: 23, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28, SIGIO: 29,
  SIGPWR: 30, SIGSYS: 31,
}; // prettier-ignore

/** `"TERM"`, `"SIGTERM"`, `"15"`, `"SIGRTMIN+3"` -> canonical `"SIGTERM"` / `"SIGRTMIN+3"`. */
export function parseSignal(v: string): Parsed<string> {
  const up = v.trim().toUpperCase();
  const name = up.startsWith("SIG") ? up : `SIG${up}`;
  if (name in SIGNALS) return ok(name);
  if (/^\d+$/.test(up)) {
    const found = Object.entries(SIGNALS).find(([, n]) => n === Number(up));
    if (found) return ok(found[0]);
  }
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name);
  if (rt && Number(rt[1] ?? 0) <= 30) return ok(name);
  return fail(
    `${JSON.stringify(v)} is not a signal. expected a name such as "SIGTERM", "INT" or "SIGUSR1"`,
  );
}

/** Every Linux capability, as of kernel 5.9 (CAP_CHECKPOINT_RESTORE). */
export const CAPABILITIES: readonly string[] = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
  "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
  "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]; // prettier-ignore

/** `"net_admin"`, `"NET_ADMIN"`, `"CAP_NET_ADMIN"` -> `"CAP_NET_ADMIN"`. */
export function parseCapability(v: string): Parsed<string> {
  const up = v.toUpperCase();
  const name = up.startsWith("CAP_") ? up : `CAP_${up}`;
  return CAPABILITIES.includes(name)
    ? ok(name)
    : fail(
        `${JSON.stringify(v)} is not a Linux capability. expected a name such as "NET_ADMIN" or "CAP_CHOWN"`,
      );
}

/** `"uid:gid"`, `"uid"`, `"name"`, `"name:group"` -> parts, not yet looked up. */
export function parseUserSpec(v: string): Parsed<{ user: string; group?: string }> {
  const m = /^([a-z_][a-z0-9_-]*\$?|\d+)(?::([a-z_][a-z0-9_-]*|\d+))?$/.exec(v);
  if (!m)
    return fail(
      `${JSON.stringify(v)} is not a valid user. expected "uid:gid", "uid", or a user name that exists ` +
        "on this host (for host programs)",
    );
  return ok(m[2] === undefined ? { user: m[1] ?? "" } : { user: m[1] ?? "", group: m[2] });
}

/** Normalise `uname -m` style names to OCI/Go architecture names. */
export function normaliseArch(a: string): string {
  const map: Record<string, string> = {
    x64: "amd64", // node's process.arch
    ia32: "386",
    x86_64: "amd64",
    aarch64: "arm64",
    i686: "386",
    i386: "386",
    armv7l: "arm",
  };
  return map[a] ?? a;
}
