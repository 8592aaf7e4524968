import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Compare `text` with the committed snapshot `dir/name`; UPDATE_SNAPSHOTS=1 (or a missing file)
 * rewrites it, and the diff is then reviewed like code.
 */
export function snapshot(dir: string, name: string, text: string): void {
  const file = join(dir, name);
  if (process.env["UPDATE_SNAPSHOTS"] === "1" || !existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, text);
  }
  assert.equal(
    text,
    readFileSync(file, "utf8"),
    `${name} differs from its snapshot (UPDATE_SNAPSHOTS=1 to accept)`,
  );
}
