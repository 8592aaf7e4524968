/**
 * Secrets reach a container at start, never through a file railyard writes: the unit loads
 * each one as a systemd credential (LoadCredential= or LoadCredentialEncrypted=, which systemd
 * reads, and decrypts, into its own credentials directory on a ramfs), an ExecStartPre= copies
 * it with the owner and mode the container asks for into a root-only directory on /run (a
 * tmpfs), and runc binds that copy read-only at its target. ExecStopPost= removes the copies.
 * The bundle holds only the mount; the unit, only the host path of the secret.
 *
 * Rootless, the user manager loads the credential (a plain file in the user's runtime dir, as
 * systemd 252 keeps them for a user), and the copy runs under `unshare` with the container's id
 * mapping, so that it can be given to a container id. Encrypted credentials need the host's
 * key, which a user manager before systemd 256 cannot use: config/resolve refuses them. Pure.
 */
import type {
  ResolvedConfig,
  ResolvedContainer,
  ResolvedMount,
  RootlessScope,
} from "../model/types.js";
import { mappedUnshareArgs, runDir } from "../rootless/scope.js";
import { execQuote, shQuote } from "../util/quote.js";

/** The per-container directory of the copies, per runtime id, on /run (rootless: its runtime dir). */
export const secretsDir = (id: string, scope?: RootlessScope): string =>
  `${runDir(scope)}/secrets/${id}`;

/** The copy for the container's i-th secret (an index: one secret may appear twice). */
const copyPath = (id: string, i: number, scope?: RootlessScope) => `${secretsDir(id, scope)}/${i}`;

/** Each secret as a read-only bind mount of its copy. */
export function secretMounts(
  c: ResolvedContainer,
  id: string,
  scope?: RootlessScope,
): ResolvedMount[] {
  return c.secrets.map((s, i) => ({
    destination: s.target,
    type: "bind",
    source: copyPath(id, i, scope),
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
  const scope = config.rootless;
  const dir = shQuote(secretsDir(id, scope));
  const copies = c.secrets.map(
    (s, i) =>
      `install -o ${s.uid} -g ${s.gid} -m ${s.mode.toString(8).padStart(4, "0")} "$CREDENTIALS_DIRECTORY"/${shQuote(s.source)} ${shQuote(copyPath(id, i, scope))}`,
  );
  const script = [`rm -rf ${dir}`, `mkdir -p -m 0700 ${dir}`, ...copies].join(" && ");
  // Rootless: as root of a namespace with the container's mapping (the user is its root).
  const mapped = scope ? `/usr/bin/unshare ${mappedUnshareArgs(scope).join(" ")} ` : "";
  return [
    ...load,
    `ExecStartPre=${mapped}/bin/sh -c ${execQuote(script)}`,
    // The directory is the user's own, so removing the copies in it needs no mapping.
    `ExecStopPost=-/bin/rm -rf ${execQuote(secretsDir(id, scope))}`,
  ];
}
