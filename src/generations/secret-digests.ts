/**
 * Which services use a secret, or an environmentFiles file, whose value changed since they last
 * started: a rotated password restarts exactly the services that read it. Both are read at
 * start, not kept in a bundle, so no bundle fingerprint sees them change. What is kept is an
 * HMAC of each service's values under a random key, both root-only files in the state dir,
 * outside every generation; never a value, nor a plain hash a guess could be checked against
 * without the key.
 */
import { createHmac, randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { ResolvedConfig, ResolvedContainer } from "../model/types.js";
import { ConfigError, type ConfigProblem } from "../errors.js";
import { writeFileAtomic } from "../util/atomic.js";
import { parseEnvFile, readEnvFileText } from "../bundle/host.js";
import { formatBytes, readRegularFile, UnreadableFileError } from "../util/read-file.js";

/**
 * systemd's limits (CREDENTIAL_SIZE_MAX): a credential of at most 1 MiB, an encrypted one of at
 * most 128 KiB more, and 1 MiB of credentials for a service in all; past them the start fails.
 */
export const CREDENTIAL_MAX = 1 << 20;
const ENCRYPTED_CREDENTIAL_MAX = CREDENTIAL_MAX + (128 << 10);

/** A generation's config from before secrets existed has no `secrets` on its containers. */
const secretsOf = (c: ResolvedContainer) => c.secrets ?? [];

const keyFile = (stateDir: string) => join(stateDir, "secrets.key");
const stateFile = (stateDir: string) => join(stateDir, "secrets.json");

/**
 * Every secret a container uses, read now. A missing or unreadable file is a config problem
 * (exit 2, nothing changed), named by its key and path, never by content.
 */
export function readSecretValues(config: ResolvedConfig): Map<string, Buffer> {
  const used = new Set(
    Object.values(config.containers).flatMap((c) => secretsOf(c).map((s) => s.source)),
  );
  const values = new Map<string, Buffer>();
  const problems: ConfigProblem[] = [];
  for (const name of [...used].sort()) {
    const s = config.secrets[name] ?? {};
    const [key, path] =
      s.encrypted !== undefined ? ["encrypted", s.encrypted] : ["file", s.file ?? ""];
    try {
      values.set(
        name,
        readRegularFile(path, key === "encrypted" ? ENCRYPTED_CREDENTIAL_MAX : CREDENTIAL_MAX),
      );
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      problems.push({
        path: `secrets.${name}.${key}`,
        message:
          e instanceof UnreadableFileError
            ? `${e.message}: systemd delivers a credential from a regular file of at most ${formatBytes(CREDENTIAL_MAX)}${key === "encrypted" ? " (encrypted: 128 KiB more)" : ""}`
            : code === "ENOENT"
              ? `${path} does not exist. create it (the value, and nothing else), or change the path`
              : `${path} cannot be read (${code ?? "error"}). railyard reads it as root when it switches`,
      });
    }
  }
  // systemd also caps what one service gets in all (an encrypted one's size is known at start).
  for (const c of Object.values(config.containers)) {
    const names = [...new Set(secretsOf(c).map((s) => s.source))].filter(
      (s) => config.secrets[s]?.file !== undefined,
    );
    const total = names.reduce((n, s) => n + (values.get(s)?.length ?? 0), 0);
    if (total > CREDENTIAL_MAX)
      problems.push({
        path: `containers.${c.name}.secrets`,
        message: `its secrets come to ${formatBytes(total)}, and systemd gives a service at most ${formatBytes(CREDENTIAL_MAX)} of credentials in all`,
      });
  }
  if (problems.length > 0) throw new ConfigError(config.file, problems);
  return values;
}

function hmacKey(stateDir: string, create: boolean): Buffer | undefined {
  try {
    return readFileSync(keyFile(stateDir));
  } catch {
    if (!create) return undefined;
    const key = randomBytes(32);
    // O_EXCL: two first switches cannot each keep a different key.
    try {
      const fd = openSync(keyFile(stateDir), "wx", 0o600);
      writeSync(fd, key);
      closeSync(fd);
      return key;
    } catch {
      return readFileSync(keyFile(stateDir));
    }
  }
}

/**
 * What a container's environmentFiles set, as its start would read them: the parsed entries, so
 * a comment restarts nothing. A file that cannot be read or parsed counts as such (the start
 * fails on it), and is named by `check`.
 */
function envFileContent(c: ResolvedContainer): string {
  return c.environmentFiles
    .map((f) => {
      let text: string;
      try {
        text = readEnvFileText(f);
      } catch (e) {
        return `${f}\0unreadable ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
      }
      const r = parseEnvFile(text);
      return r.ok
        ? `${f}\0${Object.entries(r.env)
            .map(([k, v]) => `${k}=${v}`)
            .join("\0")}`
        : `${f}\0bad line ${r.line}`;
    })
    .join("\0\0");
}

/** Per service that uses secrets or environmentFiles: one HMAC over their names and values. */
export function serviceSecretDigests(
  config: ResolvedConfig,
  values: ReadonlyMap<string, Buffer>,
  o: { readonly makeKey?: boolean } = {},
): Record<string, string> {
  const users = Object.values(config.containers).filter(
    (c) => secretsOf(c).length > 0 || c.environmentFiles.length > 0,
  );
  const out: Record<string, string> = {};
  // No key is made (nor anything written) for a config with neither.
  if (users.length === 0) return out;
  // Without a key nothing was recorded, and a dry run makes none.
  const key = hmacKey(config.stateDir, o.makeKey ?? true);
  if (!key) return out;
  for (const c of users) {
    const h = createHmac("sha256", key);
    for (const name of [...new Set(secretsOf(c).map((s) => s.source))].sort())
      h.update(`${name}\0`)
        .update(values.get(name) ?? Buffer.alloc(0))
        .update("\0");
    if (c.environmentFiles.length > 0) h.update("environmentFiles\0").update(envFileContent(c));
    out[c.name] = h.digest("hex");
  }
  return out;
}

function recorded(stateDir: string): Record<string, string> {
  try {
    return JSON.parse(readFileSync(stateFile(stateDir), "utf8")) as Record<string, string>;
  } catch {
    return {};
  }
}

/** The services whose secrets differ from what they last started with. */
export function changedSecrets(
  stateDir: string,
  digests: Readonly<Record<string, string>>,
): string[] {
  const before = recorded(stateDir);
  return Object.keys(digests)
    .filter((n) => before[n] !== undefined && before[n] !== digests[n])
    .sort();
}

/** Remember what these services started with (they just started, or kept running with it). */
export function recordSecrets(
  stateDir: string,
  digests: Readonly<Record<string, string>>,
  started: readonly string[],
): void {
  const before = recorded(stateDir);
  const next = { ...before };
  for (const [n, d] of Object.entries(digests))
    if (started.includes(n) || next[n] === undefined) next[n] = d;
  for (const n of Object.keys(next)) if (digests[n] === undefined) delete next[n];
  if (JSON.stringify(next) === JSON.stringify(before)) return;
  writeFileAtomic(stateFile(stateDir), `${JSON.stringify(next, null, 2)}\n`, 0o600);
}

/**
 * The digests of what `config`'s services would start with now, and the services among them
 * whose values differ from what they last started with. A dry run writes nothing.
 */
export function startValues(
  config: ResolvedConfig,
  o: { readonly dryRun?: boolean } = {},
): { digests: Record<string, string>; rotated: string[] } {
  const digests = serviceSecretDigests(config, readSecretValues(config), {
    makeKey: o.dryRun !== true,
  });
  return { digests, rotated: changedSecrets(config.stateDir, digests) };
}
