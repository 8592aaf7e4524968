import {
  closeSync,
  constants,
  fchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
} from "node:fs";
import { posix } from "node:path";

/**
 * mkdir -p without trusting what others control, for directories root creates and hands to a
 * container's user. The path is walked one component at a time from an open directory (through
 * /proc/self/fd, node's stand-in for openat), opening each with O_NOFOLLOW: a component that is
 * swapped for a symlink after it was checked is refused, not followed. A symlink already in the
 * path is followed only when root owns it (a path such as /var/run -> /run): one that anyone
 * else made could point the new directory anywhere root can write, and is refused.
 *
 * Own code rather than a library: no well-kept package does this walk, and it is security code
 * that must be read in one place.
 */
export class UnsafePathError extends Error {
  override readonly name = "UnsafePathError";
}

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const MAX_LINKS = 40;

/**
 * Create `path` and its missing parents (mode 0755, owned by root), then give the last one to
 * `owner`. Returns the directories it created; an existing `path` is left as it is.
 */
export function mkdirNoFollow(path: string, owner: { uid: number; gid: number }): string[] {
  const created: string[] = [];
  let segs = posix.normalize(path).split("/").filter(Boolean);
  let links = 0;
  let fd = openSync("/", DIR_FLAGS);
  let at = "";
  try {
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i] as string;
      const here = `/proc/self/fd/${fd}/${seg}`;
      let next: number;
      try {
        next = openSync(here, DIR_FLAGS);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOENT") {
          mkdirSync(here, { mode: 0o755 });
          next = openSync(here, DIR_FLAGS);
          fchownSync(next, 0, 0);
          created.push(`${at}/${seg}`);
        } else if (code === "ELOOP" || code === "ENOTDIR") {
          const st = lstatSync(here);
          if (!st.isSymbolicLink()) throw new UnsafePathError(`${at}/${seg} is not a directory`);
          if (st.uid !== 0)
            throw new UnsafePathError(
              `${at}/${seg} is a symbolic link owned by uid ${st.uid}, not by root: railyard does not create directories through it (it could point anywhere). create ${path} yourself, or use the path it points to`,
            );
          if (++links > MAX_LINKS) throw new UnsafePathError(`${path}: too many symbolic links`);
          // Follow root's link: start again from the target, with the rest of the path.
          const target = readlinkSync(here);
          const base = target.startsWith("/") ? target : posix.join(at || "/", target);
          segs = [...posix.normalize(base).split("/").filter(Boolean), ...segs.slice(i + 1)];
          closeSync(fd);
          fd = openSync("/", DIR_FLAGS);
          at = "";
          i = -1;
          continue;
        } else throw e;
      }
      closeSync(fd);
      fd = next;
      at = `${at}/${seg}`;
    }
    // fd is the last directory (every step opened with O_DIRECTORY).
    if (created.length > 0) fchownSync(fd, owner.uid, owner.gid);
    return created;
  } finally {
    closeSync(fd);
  }
}
