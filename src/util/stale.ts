/**
 * Temporary entries that a killed railyard leaves behind name the pid that made them:
 * `NAME.tmp-PID` and `NAME.old-PID` (bundles), `.tmp-PID-HEX` (unpacked images), `.tmp-GEN-PID`
 * (generations), `FILE.tmp-PID-HEX` (atomic writes). One whose process is gone is garbage; one
 * whose process lives is work in progress and is left alone.
 */
const PATTERNS: readonly RegExp[] = [
  /\.(?:tmp|old)-(\d+)$/, // bundles/NAME-FP.tmp-PID, .old-PID
  /^\.tmp-(\d+)-[0-9a-f]{8}$/, // rootfs/.tmp-PID-HEX
  /^\.tmp-\d+-(\d+)$/, // generations/.tmp-GEN-PID
  /\.tmp-(\d+)-[0-9a-f]{8}$/, // FILE.tmp-PID-HEX
];

/** The pid a temporary entry's name carries, or undefined for a name that is not one. Pure. */
export function tempPid(name: string): number | undefined {
  for (const p of PATTERNS) {
    const m = p.exec(name);
    if (m) return Number(m[1]);
  }
  return undefined;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** Is `name` a temporary entry whose maker is dead? */
export function isStaleTemp(name: string, isAlive: (pid: number) => boolean = alive): boolean {
  const pid = tempPid(name);
  return pid !== undefined && pid !== process.pid && !isAlive(pid);
}
