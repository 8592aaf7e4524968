import { BuildError } from "../errors.js";

/**
 * A writable image root as an overlay: the bundle's small `layer/` (railyard's /etc files and
 * mount points) over the shared unpacked image, with the container's writes in the bundle's
 * `upper/`. Building one costs a few small files instead of a copy of the image; the upper
 * directory lives as long as its bundle, so a restart keeps what the container wrote and a
 * changed bundle starts from a fresh one, as `docker compose up` recreates a container.
 *
 * It is mounted while the container runs at a path per container id, outside every bundle: the
 * unit's stop (of whichever generation) unmounts the same path, and removing a bundle can never
 * reach through a mount into a running container's files.
 */
export interface Overlay {
  /** Top first: the bundle's layer, then the unpacked image. */
  readonly lower: readonly string[];
  readonly upper: string;
  readonly work: string;
  /** Where the merged root is mounted; the spec's root.path. */
  readonly target: string;
}

/** The directory under which overlay roots are mounted (a tmpfs: empty after a boot). */
export const OVERLAY_ROOT = "/run/railyard/rootfs";

/** Where the root of the container with runtime id `id` is mounted. */
export const overlayTarget = (id: string): string => `${OVERLAY_ROOT}/${id}`;

/** The overlay of a bundle directory over an unpacked image, for runtime id `id`. Pure. */
export function overlayOf(bundle: string, base: string, id: string): Overlay {
  return {
    lower: [`${bundle}/layer`, base],
    upper: `${bundle}/upper`,
    work: `${bundle}/work`,
    target: overlayTarget(id),
  };
}

/**
 * mount(8)'s argv for the overlay (`--mkdir` makes the target after a boot). overlayfs splits
 * its options at "," and lowerdir at ":", so a path holding either is refused here, at build.
 */
export function mountArgs(o: Overlay, container: string): string[] {
  for (const p of [...o.lower, o.upper, o.work])
    if (/[,:\\]/.test(p))
      throw new BuildError(
        `${p}: an overlay root cannot use a path with "," ":" or "\\" in it. move the state directory, or set readonly: true`,
        container,
      );
  const options = `lowerdir=${o.lower.join(":")},upperdir=${o.upper},workdir=${o.work}`;
  return ["-t", "overlay", "overlay", "--mkdir=0755", "-o", options, o.target];
}

export const MOUNT = "/bin/mount";
export const UMOUNT = "/bin/umount";

/** Whether `target` is a mount point in a /proc/self/mountinfo text (field 5, octal escapes). Pure. */
export function isMountPoint(mountinfo: string, target: string): boolean {
  const unescape = (f: string) =>
    f.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return mountinfo.split("\n").some((l) => unescape(l.split(" ")[4] ?? "") === target);
}
