import type { PullEvent } from "../image/pull.js";

const WIDTH = 30;

/** 1536 -> "1.5 KiB" (pull progress, stats, status). Pure. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/**
 * Pull and build progress for people and scripts: one bar per layer, redrawn in place, and a
 * builder's output as it comes, when stderr is a TTY; JSON lines to `out` under --json; nothing
 * otherwise.
 */
/**
 * A command's progress on stderr: drawn on a TTY, JSON lines under --json (`json`), and the
 * finished lines through `out` (default: stderr too, so stdout keeps the command's result).
 */
export const stderrProgress = (o: { json: boolean; out?: (s: string) => void }) =>
  pullReporter({
    tty: process.stderr.isTTY === true,
    json: o.json,
    write: (s) => process.stderr.write(s),
    out: o.out ?? ((s) => process.stderr.write(`${s}\n`)),
  });

export function pullReporter(o: {
  tty: boolean;
  json: boolean;
  write: (s: string) => void;
  out: (s: string) => void;
}): (e: PullEvent) => void {
  if (o.json) return (e) => o.out(JSON.stringify(e));
  if (!o.tty) return () => {};
  const layers = new Map<string, { done: number; size: number }>();
  let drawn = 0;
  let last = 0;
  const draw = (force: boolean) => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    let s = drawn > 0 ? `\x1b[${drawn}A` : "";
    for (const [digest, l] of layers) {
      const frac = l.size > 0 ? Math.min(l.done / l.size, 1) : 1;
      const fill = Math.round(frac * WIDTH);
      s += `\x1b[2K${digest.slice(7, 19)} [${"=".repeat(fill)}${" ".repeat(WIDTH - fill)}] ${bytes(l.done)} / ${bytes(l.size)}\n`;
    }
    drawn = layers.size;
    o.write(s);
  };
  return (e) => {
    if (e.kind === "build") o.write(`building ${e.ref} from ${e.context} with ${e.builder}\n`);
    else if (e.kind === "build-output") o.write(`  ${e.line}\n`);
    else if (e.kind === "built")
      o.write(
        e.rebuilt
          ? `built ${e.ref} ${e.digest.slice(0, 19)} in ${e.seconds} s${e.same ? " (the same image as before: kept)" : ""}\n`
          : `${e.ref}: build context unchanged, not rebuilt\n`,
      );
    else if (e.kind === "resolved") {
      o.write(`pulling ${e.ref} (${e.layers} layers, ${bytes(e.bytes)})\n`);
      layers.clear();
      drawn = 0;
    } else if (e.kind === "layer") {
      layers.set(e.digest, { done: e.done, size: e.size });
      draw(e.done === e.size);
    } else draw(true);
  };
}
