/** The journal of a unit: journalctl's matches for it, the system's or a rootless user's. Pure. */
import type { RootlessScope } from "../model/types.js";

/**
 * journalctl's selection of a unit's lines. Rootless, not `--user -u`: that also requires the
 * sender's uid to be the user's, and a container running as a container user other than root
 * writes as a subordinate uid. Instead: what the user's manager ran in that unit (its cgroup
 * names the owner), or what the manager said about the unit.
 */
export function logMatches(unit: string, rootless: RootlessScope | undefined): string[] {
  if (!rootless) return ["-u", unit];
  const uid = String(rootless.uid);
  return [
    `_SYSTEMD_USER_UNIT=${unit}`,
    `_SYSTEMD_OWNER_UID=${uid}`,
    "+",
    `USER_UNIT=${unit}`,
    `_UID=${uid}`,
  ];
}
