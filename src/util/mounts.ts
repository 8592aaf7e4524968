/**
 * Which filesystem a path is on, for messages that must name it ("/srv is a read-only xfs").
 * Read from /proc/self/mountinfo, the longest mount point that holds the path.
 */
import { realpathSync, statfsSync } from "node:fs";
import { readText } from "./read-file.js";
import { dirname } from "node:path";

export interface MountOf {
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
}

/** mountinfo's octal escapes (\040 for a space) decoded. */
const unescape = (s: string) =>
  s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The mount a path is on (its nearest existing ancestor's), or undefined where /proc is not. */
export function mountOf(path: string, mountinfo = "/proc/self/mountinfo"): MountOf | undefined {
  let real = path;
  for (;;) {
    try {
      real = realpathSync(real);
      break;
    } catch {
      if (dirname(real) === real) break;
      real = dirname(real);
    }
  }
  const text = readText(mountinfo);
  if (text === undefined) return undefined;
  let best: MountOf | undefined;
  for (const line of text.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const f = pre.split(" ");
    const point = unescape(f[4] ?? "");
    const inside = point === "/" || real === point || real.startsWith(`${point}/`);
    if (!inside || (best && best.mountPoint.length > point.length)) continue;
    const [fsType = "?", source = "?"] = post.split(" ");
    best = { mountPoint: point, fsType, source: unescape(source) };
  }
  return best;
}

/** Free space where `path` is, in MiB, or undefined when it cannot be read. */
export function freeMiB(path: string): number | undefined {
  try {
    const st = statfsSync(path);
    return Math.floor((st.bavail * st.bsize) / 1024 ** 2);
  } catch {
    return undefined;
  }
}

/**
 * A write under the state dir that the filesystem refused (EROFS, ENOSPC, EDQUOT), said with the
 * filesystem it is on and the way out; undefined for any other error.
 */
export function stateWriteProblem(path: string, code: string | undefined): string | undefined {
  const m = mountOf(path);
  const fs = m ? `${m.mountPoint} (${m.fsType} from ${m.source})` : "its filesystem";
  if (code === "EROFS")
    return `cannot write ${path}: ${fs} is mounted read-only. remount it read-write (mount -o remount,rw ${m?.mountPoint ?? "..."}), or use a state dir on a writable one (--state-dir)`;
  if (code === "ENOSPC" || code === "EDQUOT") {
    const free = freeMiB(m?.mountPoint ?? dirname(path));
    return `cannot write ${path}: no space left on ${fs}${free === undefined ? "" : `, ${free} MiB free there`}. free some space (railyard gc removes unused images, bundles and partial downloads) and run the command again`;
  }
  return undefined;
}
