/** The capabilities a container starts from and holds. Pure. */
import type { ResolvedContainer } from "./types.js";

/** `runc spec`'s capability set: where a host program's container starts from. */
export const DEFAULT_CAPABILITIES = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/**
 * podman's default set: where an image container starts from. Official images' entrypoints run
 * as root, chown their data (CHOWN, DAC_OVERRIDE, FOWNER) and drop to a service user (SETUID,
 * SETGID); docker adds MKNOD, NET_RAW and AUDIT_WRITE to these.
 */
export const IMAGE_CAPABILITIES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
  "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
]; // prettier-ignore

/** The set a container starts from before its `capabilities` apply. */
export const baseCapabilities = (c: Pick<ResolvedContainer, "image">): readonly string[] =>
  c.image ? IMAGE_CAPABILITIES : DEFAULT_CAPABILITIES;

/** The capabilities a container holds: its kind's default set with `capabilities` applied, sorted. */
export function effectiveCapabilities(c: ResolvedContainer): string[] {
  const caps = new Set(baseCapabilities(c));
  for (const [cap, on] of Object.entries(c.capabilities)) {
    if (on) caps.add(cap);
    else caps.delete(cap);
  }
  return [...caps].sort();
}
