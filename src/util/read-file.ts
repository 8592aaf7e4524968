/**
 * Reading a file whose path railyard was handed (a secret, an environment file) safely: a FIFO
 * would hang the read, /dev/zero would grow it without end, and a file larger than its consumer
 * takes (systemd's 1 MiB per credential) fails later with no reason given. Node's readFileSync
 * guards against none of it, so this opens without blocking, checks what it opened, and reads at
 * most `max` bytes.
 */
import {
  closeSync,
  readFileSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readlinkSync,
  readSync,
  type Stats,
} from "node:fs";

/** A file that is there but is not one railyard will read: `why` says what it is instead. */
export class UnreadableFileError extends Error {
  override name = "UnreadableFileError";
  constructor(
    readonly path: string,
    readonly why: string,
  ) {
    super(`${path} ${why}`);
  }
}

/** What a non-regular file is, in words. */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/** `n` bytes as people read sizes: "1 MiB", "3.2 MiB", "512 KiB", "80 bytes". */
export function formatBytes(n: number): string {
  if (n >= 1 << 20) return `${Math.round((n / (1 << 20)) * 10) / 10} MiB`;
  if (n >= 1 << 10) return `${Math.round((n / (1 << 10)) * 10) / 10} KiB`;
  return `${n} bytes`;
}

/**
 * The bytes of the regular file at `path` (symlinks followed, as the consumer follows them), at
 * most `max`. Throws UnreadableFileError for anything else or anything larger, and the system's
 * error (ENOENT, EACCES) where it cannot be opened.
 */
export function readRegularFile(path: string, max: number): Buffer {
  // O_NONBLOCK: opening a FIFO for reading would wait for a writer.
  return readOpened(path, openSync(path, READ_FLAGS), max);
}

const READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
/** How many symlinks one lookup may follow, as the kernel's own limit (MAXSYMLINKS). */
const MAX_LINKS = 40;

/**
 * A file of another root (a running container's, `/proc/PID/root`), looked up as that root
 * sees it: every symlink resolved against that root, never the host's, and ".." never above it
 * (as chroot does). Each step opens the next component under the directory already open
 * (`/proc/self/fd/N/NAME`, O_NOFOLLOW), so a container that swaps a directory for a link while
 * we look cannot send the read out of its root. Then as readRegularFile: a regular file of at
 * most `max` bytes, or UnreadableFileError; the system's error (ENOENT, ELOOP) where the path
 * does not lead to one.
 */
export function readFileInRoot(root: string, path: string, max: number): Buffer {
  const dirs = [openSync(root, DIR_FLAGS & ~constants.O_NOFOLLOW)];
  const at = () => `/proc/self/fd/${dirs[dirs.length - 1] as number}`;
  const todo = path.split("/").filter((c) => c !== "" && c !== ".");
  let links = 0;
  try {
    while (todo.length > 0) {
      const name = todo.shift() as string;
      if (name === "..") {
        if (dirs.length > 1) closeSync(dirs.pop() as number);
        continue;
      }
      const p = `${at()}/${name}`;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) {
        if (++links > MAX_LINKS)
          throw Object.assign(new Error(`${path}: too many links`), { code: "ELOOP" });
        const target = readlinkSync(p);
        // An absolute target starts again from the container's root.
        if (target.startsWith("/")) while (dirs.length > 1) closeSync(dirs.pop() as number);
        todo.unshift(...target.split("/").filter((c) => c !== "" && c !== "."));
        continue;
      }
      if (todo.length > 0) {
        dirs.push(openSync(p, DIR_FLAGS));
        continue;
      }
      return readOpened(path, openSync(p, READ_FLAGS | constants.O_NOFOLLOW), max);
    }
    throw new UnreadableFileError(path, "is a directory, not a regular file");
  } finally {
    for (const fd of dirs) closeSync(fd);
  }
}

/** The regular file open on `fd` (closed here), at most `max` bytes. */
function readOpened(path: string, fd: number, max: number): Buffer {
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UnreadableFileError(path, `is ${kindOf(st)}, not a regular file`);
    const tooBig = (size: number) =>
      new UnreadableFileError(
        path,
        `is ${formatBytes(size)}, over the limit of ${formatBytes(max)}`,
      );
    if (st.size > max) throw tooBig(st.size);
    // The file may grow while it is read: never more than max + 1 bytes.
    const buf = Buffer.allocUnsafe(max + 1);
    let n = 0;
    for (let r; n <= max && (r = readSync(fd, buf, n, max + 1 - n, null)) > 0;) n += r;
    if (n > max) throw tooBig(n);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * A text file railyard itself keeps or the kernel gives (/proc, /sys, its state), or undefined
 * when it is not there or cannot be read: the one "read a file or nothing" helper.
 */
export function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** A text file's contents, or `fallback` when it cannot be read. */
export const readOr = (file: string, fallback: string): string => readText(file) ?? fallback;
