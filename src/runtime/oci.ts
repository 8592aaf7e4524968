/** argv for the OCI runtime CLI (runc and crun share it). Pure. */
import { createHash } from "node:crypto";

/**
 * The runtime's id of a container. runc keeps one namespace of ids per host (per user, rootless),
 * so a project whose state dir is not the default one gets a short hash of it in every id: two
 * projects with a container of the same name no longer collide. The default state dir keeps the
 * plain `railyard-NAME` that units and docs show.
 */
export const containerId = (name: string, scope?: string): string =>
  scope ? `railyard-${name}-${scope}` : `railyard-${name}`;

/** The id scope of a state dir: none for the default one, else 8 hex digits of its hash. */
export function idScope(stateDir: string, defaultStateDir: string): string | undefined {
  if (stateDir === defaultStateDir) return undefined;
  return createHash("sha256").update(stateDir).digest("hex").slice(0, 8);
}

export const runArgs = (id: string, bundle: string): string[] => ["run", "--bundle", bundle, id];
export const killArgs = (id: string, signal: string): string[] => [
  "kill",
  id,
  signal.replace(/^SIG/, ""),
];
export const deleteArgs = (id: string): string[] => ["delete", "--force", id];
export const stateArgs = (id: string): string[] => ["state", id];
