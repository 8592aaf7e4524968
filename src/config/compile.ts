import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { writeFileAtomic } from "../util/atomic.js";
import { packageRoot, packageVersion } from "../util/package.js";

/**
 * Script configs (`.ts`, `.mts`, `.mjs`, `.js`, `.cjs`) are compiled once with esbuild into one ES
 * module in a cache, and node imports that file natively on every later run. The entry is keyed by
 * the config's path, its bytes and railyard's version; it records every file the compiled module
 * was built from (the config's own imports too) with size and mtime, and is used only while all of
 * them are unchanged. A hit costs a few stats; a miss (a changed config) costs one esbuild run.
 * Loading a compiler on every command would cost more than the rest of `railyard run` together.
 */

interface CacheEntry {
  /** The compiled module's URL: a file in the cache, or data: when the cache is not writable. */
  readonly module: string;
  readonly inputs: readonly { path: string; size: number; mtimeMs: number }[];
  /**
   * Set once this compiled module has loaded within the limits (evaluate.ts): later runs import
   * it directly, and tab completion may run it.
   */
  readonly checked?: boolean;
}

/** An esbuild message: what `build` rejects with, as far as we read it. */
interface BuildMessage {
  text: string;
  location?: { file: string; line: number; column: number } | null;
}

/** Where compiled configs are cached: $XDG_CACHE_HOME/railyard/config (default ~/.cache). */
export function configCacheDir(env: Readonly<Record<string, string | undefined>>): string {
  const base = env["XDG_CACHE_HOME"] || join(env["HOME"] || homedir(), ".cache");
  return join(base, "railyard", "config");
}

function unchanged(entry: CacheEntry): boolean {
  return entry.inputs.every((i) => {
    try {
      const st = statSync(i.path);
      return st.size === i.size && st.mtimeMs === i.mtimeMs;
    } catch {
      return false;
    }
  });
}

/** A script config's compiled module, and whether it has loaded within the limits before. */
export interface CompiledConfig {
  readonly module: string;
  readonly checked: boolean;
  /** Record that it loaded within the limits (where the cache is writable). */
  markChecked(): void;
}

/** A script config that has no compiled module, or a stale one, where compiling was not asked. */
export class NotCompiledError extends Error {
  override name = "NotCompiledError";
}

export interface CompiledOnly {
  /** Run a script config only if an explicit command compiled and loaded it before. */
  readonly compiledOnly?: boolean;
}

/**
 * A script config's module from the compile cache, compiled now where it is missing or stale
 * (`compiledOnly` refuses instead: tab completion never compiles, nor runs, a config that no
 * explicit command has run).
 */
export async function compiledConfig(
  file: string,
  o: CompiledOnly & { readonly cacheDir: string },
): Promise<CompiledConfig> {
  const { cacheDir } = o;
  const source = readFileSync(file);
  const key = createHash("sha256")
    .update(`${packageVersion()}\0${file}\0`)
    .update(source)
    .digest("hex")
    .slice(0, 32);
  const entryPath = join(cacheDir, `${key}.json`);
  let entry: CacheEntry | undefined;
  try {
    entry = JSON.parse(readFileSync(entryPath, "utf8")) as CacheEntry;
  } catch {
    // not compiled yet
  }
  if (o.compiledOnly && !(entry?.checked === true && unchanged(entry)))
    throw new NotCompiledError(`${file} has not been compiled and loaded by a command`);
  if (!entry || !unchanged(entry)) {
    const stale = entry?.module;
    entry = await compile(file, cacheDir, key);
    if (stale?.startsWith("file:") && stale !== entry.module)
      rmSync(fileURLToPath(stale), { force: true });
  }
  const done = entry;
  return {
    module: done.module,
    checked: done.checked === true,
    markChecked() {
      if (!done.module.startsWith("file:")) return;
      try {
        writeFileAtomic(entryPath, `${JSON.stringify({ ...done, checked: true })}\n`, 0o600);
      } catch {
        // a read-only cache: it is checked again next time
      }
    },
  };
}

async function compile(file: string, cacheDir: string, key: string): Promise<CacheEntry> {
  const { build } = await import("esbuild");
  let result;
  try {
    result = await build({
      entryPoints: [file],
      bundle: true,
      write: false,
      metafile: true,
      format: "esm",
      platform: "node",
      target: "node20",
      absWorkingDir: "/",
      // `import { defineConfig } from "railyard"` is this package's config API (types are erased),
      // wherever the config lives.
      alias: { railyard: join(packageRoot(), "dist/src/config/define.js") },
      // CommonJS packages a config imports may call require(): one that resolves from the config.
      banner: {
        js: `import { createRequire as __railyardRequire } from "node:module"; const require = __railyardRequire(${JSON.stringify(file)});`,
      },
      logLevel: "silent",
    });
  } catch (e) {
    const errors = (e as { errors?: BuildMessage[] }).errors ?? [];
    const first = errors[0];
    if (!first) throw e;
    const where = first.location
      ? `/${first.location.file}:${first.location.line}:${first.location.column + 1}: `
      : "";
    throw new Error(`${where}${first.text}`);
  }
  const code = result.outputFiles[0]?.text ?? "";
  const inputs = Object.keys(result.metafile.inputs).map((p) => {
    const path = `/${p}`;
    const st = statSync(path);
    return { path, size: st.size, mtimeMs: st.mtimeMs };
  });
  try {
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    // Named by content too: node caches modules by URL, so new code needs a new name.
    const module = join(
      cacheDir,
      `${key}-${createHash("sha256").update(code).digest("hex").slice(0, 16)}.mjs`,
    );
    writeFileAtomic(module, code, 0o600);
    const entry: CacheEntry = { module: pathToFileURL(module).href, inputs };
    writeFileAtomic(join(cacheDir, `${key}.json`), `${JSON.stringify(entry)}\n`, 0o600);
    return entry;
  } catch {
    // A read-only home: run the compiled code without caching it.
    return {
      module: `data:text/javascript;base64,${Buffer.from(code).toString("base64")}`,
      inputs,
    };
  }
}
