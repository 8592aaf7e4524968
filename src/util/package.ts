import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The directory of railyard's own package.json. Found by walking up from this module, because the
 * same code runs from dist/src/ (the library and the tests) and from the bundle in dist/cli/.
 */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string };
      if (pkg.name === "railyard") return dir;
    } catch {
      // no package.json here: keep walking up
    }
    if (dirname(dir) === dir) throw new Error(`railyard's package.json not found above ${from}`);
  }
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** Fixed into the bundle by scripts/bundle.mjs; absent when running from dist/src. */
declare const __RAILYARD_COMMIT__: string | undefined;

/**
 * The commit railyard was built from: `git rev-parse --short=12 HEAD` when the bundle was made,
 * with "-dirty" if the tree had changes, or "unknown" (not bundled, or not built from git).
 */
export function buildCommit(): string {
  return typeof __RAILYARD_COMMIT__ === "string" ? __RAILYARD_COMMIT__ : "unknown";
}
