/** The names a container has on the host: its runtime id, scoped by project or state dir. Pure. */
import { createHash } from "node:crypto";

/** What a config's host-wide names carry: its project's name, else its state dir's id scope. */
export interface IdScope {
  readonly project?: string | undefined;
  readonly idScope?: string | undefined;
}

/**
 * The runtime's id of a container. runc keeps one namespace of ids per host (per user, rootless),
 * so two projects with a container of the same name must not share one: a config with a
 * `project` names it `railyard-PROJECT-NAME`, as compose prefixes its containers; a state dir
 * that is not the default one puts a short hash of it in every id. The default state dir keeps
 * the plain `railyard-NAME` that units and docs show.
 */
export const containerId = (name: string, scope: IdScope = {}): string =>
  scope.project
    ? `railyard-${scope.project}-${name}`
    : scope.idScope
      ? `railyard-${name}-${scope.idScope}`
      : `railyard-${name}`;

/** The parts of a config that name its host-wide things (ResolvedConfig has both). */
export const idScopeOf = (c: IdScope): IdScope => ({
  ...(c.project ? { project: c.project } : {}),
  ...(c.idScope ? { idScope: c.idScope } : {}),
});

/** The id scope of a state dir: none for the default one, else 8 hex digits of its hash. */
export function idScope(stateDir: string, defaultStateDir: string): string | undefined {
  if (stateDir === defaultStateDir) return undefined;
  return createHash("sha256").update(stateDir).digest("hex").slice(0, 8);
}

/**
 * A docker or podman backend's name for a container: a project's prefixes it, as compose names
 * its containers; without one, the container's own name.
 */
export const engineName = (name: string, scope: IdScope = {}): string =>
  scope.project ? `${scope.project}-${name}` : name;
