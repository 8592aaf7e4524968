/**
 * Which services use a secret whose value changed since they last started: a rotated password
 * restarts exactly the services that read it. What is kept is an HMAC of each service's secret
 * values under a random key, both root-only files in the state dir, outside every generation;
 * never a value, nor a plain hash a guess could be checked against without the key.
 */
import { createHmac, randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { ResolvedConfig, ResolvedContainer } from "../config/types.js";
import { ConfigError, type ConfigProblem } from "../errors.js";
import { writeFileAtomic } from "../util/atomic.js";

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
      values.set(name, readFileSync(path));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      problems.push({
        path: `secrets.${name}.${key}`,
        message:
          code === "ENOENT"
            ? `${path} does not exist. create it (the value, and nothing else), or change the path`
            : `${path} cannot be read (${code ?? "error"}). railyard reads it as root when it switches`,
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(config.file, problems);
  return values;
}

function hmacKey(stateDir: string): Buffer {
  try {
    return readFileSync(keyFile(stateDir));
  } catch {
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

/** Per service that uses secrets: one HMAC over its secrets' names and values. */
export function serviceSecretDigests(
  config: ResolvedConfig,
  values: ReadonlyMap<string, Buffer>,
): Record<string, string> {
  const users = Object.values(config.containers).filter((c) => secretsOf(c).length > 0);
  const out: Record<string, string> = {};
  // No key is made (nor anything written) for a config without secrets.
  if (users.length === 0) return out;
  const key = hmacKey(config.stateDir);
  for (const c of users) {
    const h = createHmac("sha256", key);
    for (const name of [...new Set(secretsOf(c).map((s) => s.source))].sort())
      h.update(`${name}\0`)
        .update(values.get(name) ?? Buffer.alloc(0))
        .update("\0");
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
