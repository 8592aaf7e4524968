/**
 * Secrets reach a container at start, never through a file railyard writes: the unit loads
 * each one as a systemd credential (LoadCredential= or LoadCredentialEncrypted=, which systemd
 * reads, and decrypts, into its own credentials directory on a ramfs), an ExecStartPre= copies
 * it with the owner and mode the container asks for into a root-only directory on /run (a
 * tmpfs), and runc binds that copy read-only at its target. ExecStopPost= removes the copies.
 * The bundle holds only the mount; the unit, only the host path of the secret. Pure.
 */
import type { ResolvedConfig, ResolvedContainer, ResolvedMount } from "../config/types.js";
import { runDir } from "../rootless/scope.js";
import { execQuote, shQuote } from "../systemd/quote.js";

/** The per-container directory of the copies, per runtime id, on /run. */
export const secretsDir = (id: string): string => `${runDir()}/secrets/${id}`;

/** The copy for the container's i-th secret (an index: one secret may appear twice). */
const copyPath = (id: string, i: number) => `${secretsDir(id)}/${i}`;

/** Each secret as a read-only bind mount of its copy. */
export function secretMounts(c: ResolvedContainer, id: string): ResolvedMount[] {
  return c.secrets.map((s, i) => ({
    destination: s.target,
    type: "bind",
    source: copyPath(id, i),
    options: ["bind", "ro", "nosuid", "nodev", "noexec"],
    origin: `secrets[${i}]`,
  }));
}

/** The unit's lines: the credentials, the copy before the start, the removal after the stop. */
export function secretUnitLines(
  config: ResolvedConfig,
  c: ResolvedContainer,
  id: string,
): string[] {
  if (c.secrets.length === 0) return [];
  const used = [...new Set(c.secrets.map((s) => s.source))].sort();
  const load = used.map((name) => {
    const s = config.secrets[name] ?? {};
    return s.encrypted !== undefined
      ? `LoadCredentialEncrypted=${name}:${execQuote(s.encrypted)}`
      : `LoadCredential=${name}:${execQuote(s.file ?? "")}`;
  });
  const dir = secretsDir(id);
  const copies = c.secrets.map(
    (s, i) =>
      `install -o ${s.uid} -g ${s.gid} -m ${s.mode.toString(8).padStart(4, "0")} "$CREDENTIALS_DIRECTORY"/${shQuote(s.source)} ${copyPath(id, i)}`,
  );
  const script = [`rm -rf ${dir}`, `mkdir -p -m 0700 ${dir}`, ...copies].join(" && ");
  return [
    ...load,
    `ExecStartPre=/bin/sh -c ${execQuote(script)}`,
    `ExecStopPost=-/bin/rm -rf ${dir}`,
  ];
}
