/**
 * Why a container died early, from its last output lines: the usual ways an image meets a
 * container set up tighter than the one it was written for, each with the config change that
 * fixes it. Pure: the caller gives the lines and the container's capabilities.
 */
import type { ResolvedContainer } from "../model/types.js";

/** A container that exits within this long after its start is said to have died early. */
export const EARLY_EXIT_MS = 10_000;

interface Rule {
  readonly test: RegExp;
  /** The hint for a matching line, or undefined when the container has what the rule needs. */
  readonly hint: (
    line: string,
    c: ResolvedContainer,
    caps: ReadonlySet<string>,
  ) => string | undefined;
}

const capHint = (caps: ReadonlySet<string>, need: readonly string[], what: string) => {
  const missing = need.filter((x) => !caps.has(x));
  if (missing.length === 0) return undefined;
  const keys = missing.map((x) => `${x.replace(/^CAP_/, "")}: true`).join(", ");
  return `${what} needs ${missing.join(" and ")}, which this container does not hold. add capabilities: { ${keys} }`;
};

/** The path a "Read-only file system" line names, from the usual ways tools quote it. */
function readOnlyPath(line: string): string | undefined {
  const m =
    /['‘"`](\/[^'’"`]+)['’"`][^\n]*Read-only file system/.exec(line) ??
    /(\/[^\s:'"]+)[^\n]*Read-only file system/.exec(line);
  return m?.[1];
}

const RULES: readonly Rule[] = [
  {
    test: /\b(chown|lchown|fchown|changing ownership)\b.*Operation not permitted/i,
    hint: (_l, _c, caps) => capHint(caps, ["CAP_CHOWN"], "changing a file's owner"),
  },
  {
    test: /\b(chmod|changing permissions)\b.*Operation not permitted/i,
    hint: (_l, _c, caps) =>
      capHint(caps, ["CAP_FOWNER"], "changing the mode of another user's file"),
  },
  {
    test: /\b(setuid|setgid|setgroups|setresuid|setresgid|initgroups|gosu|su-exec|setpriv|switch user)\b.*Operation not permitted/i,
    hint: (_l, _c, caps) =>
      capHint(
        caps,
        ["CAP_SETUID", "CAP_SETGID"],
        "dropping to another user (gosu, su-exec, setuid)",
      ),
  },
  {
    test: /Read-only file system/,
    hint: (line, c) => {
      if (!c.readonly) return undefined;
      const path = readOnlyPath(line);
      const where = path ? `${path}` : "a path";
      return `the root is read-only (readonly: true) and the program writes ${where}. set readonly: false, or add tmpfs: ["${path ?? "/the/dir"}"] (or a volume) for what it writes`;
    },
  },
  {
    test: /\b(bind|listen)\b.*(Permission denied|EACCES)/i,
    hint: (_l, c, caps) =>
      c.network === "host"
        ? capHint(caps, ["CAP_NET_BIND_SERVICE"], "a port below 1024 on the host's network")
        : undefined,
  },
  {
    // What libc, curl, Go, Node, Python and the like print when there is no route or no DNS;
    // on loopback only, any connection to an address that is not loopback fails too.
    test: /Network is unreachable|ENETUNREACH|EAI_AGAIN|ENOTFOUND|Temporary failure in name resolution|Name or service not known|Could not resolve host|could not resolve|no such host|getaddrinfo|Failed to connect to (?!127\.|localhost\b|::1\b|\[::1\])/i,
    hint: (_l, c) =>
      c.network === "none"
        ? `the program reached for the network, and the container is on network "none": loopback only, no route out. set network: "private" (its own address, outbound access, nothing inbound), "host", or a named network`
        : undefined,
  },
  {
    test: /Permission denied/,
    hint: (_l, c, caps) =>
      (c.user?.uid ?? 0) === 0
        ? capHint(caps, ["CAP_DAC_OVERRIDE"], "root reading or writing a file of another user")
        : undefined,
  },
];

/** Hints for the lines a container printed before it died, each once, most specific first. */
export function diagnose(
  lines: readonly string[],
  c: ResolvedContainer,
  caps: readonly string[],
): string[] {
  const held = new Set(caps);
  const out: string[] = [];
  for (const rule of RULES)
    for (const line of lines) {
      if (!rule.test.test(line)) continue;
      const h = rule.hint(line, c, held);
      if (h && !out.includes(h)) out.push(h);
      break;
    }
  return out;
}

/** The last `max` lines of a stream, kept as it passes. */
export class TailLines {
  private partial = "";
  private readonly lines: string[] = [];

  constructor(private readonly max = 40) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split("\n");
    this.partial = parts.pop() ?? "";
    this.lines.push(...parts);
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
  }

  get(): string[] {
    return (this.partial ? [...this.lines, this.partial] : [...this.lines]).slice(-this.max);
  }
}
