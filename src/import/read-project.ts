/**
 * A compose project read from disk and imported: the one call `railyard import compose` and a
 * compose file given as the config (`railyard -c compose.yaml switch`) both make.
 */
import { statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, resolve } from "node:path";
import { ConfigError } from "../errors.js";
import type { UserConfig } from "../model/types.js";
import { readRegularFile, UnreadableFileError } from "../util/read-file.js";
import type { Env } from "./interpolate.js";
import { fromCompose } from "./compose/index.js";
import { composeProject } from "./compose/project.js";

/** The largest compose file (or .env) read: the largest real ones are about 10 KB. */
const COMPOSE_FILE_MAX = 1 << 20;

export interface ReadProjectOptions {
  /** Files to merge, in order (absolute); none: the directory's own (COMPOSE_FILE, defaults). */
  readonly files: readonly string[];
  readonly dir: string;
  readonly env: Env;
  readonly profiles: readonly string[];
  /** Where named and anonymous volumes become host directories. */
  readonly volumesDir: string;
}

export interface ImportedProject {
  readonly config: UserConfig;
  /** Each key or value left out or changed, with its compose path. */
  readonly warnings: readonly string[];
  /** The files read, in merge order. */
  readonly files: readonly string[];
}

export function readComposeProject(o: ReadProjectOptions): ImportedProject {
  const project = composeProject(o, readComposeText);
  const imported = fromCompose(project.doc, {
    file: project.files[0] as string,
    dir: project.dir,
    env: project.env,
    volumesDir: o.volumesDir,
    // What `~` names in a host path, as compose expands it.
    home: o.env["HOME"] ?? homedir(),
    interpolated: true,
  });
  return {
    config: imported.config,
    warnings: [...project.warnings, ...imported.warnings],
    files: project.files,
  };
}

/**
 * The files and project directory that arguments name: a directory (or none: `cwd`) lets the
 * project find its files; files are merged in order, and the first one's directory is the
 * project's.
 */
export function projectPaths(
  cwd: string,
  args: readonly string[],
): { files: string[]; dir: string } {
  const paths = args.map((a) => resolve(cwd, a));
  if (paths.length === 0) return { files: [], dir: cwd };
  const first = paths[0] as string;
  if (paths.length === 1 && statSync(first, { throwIfNoEntry: false })?.isDirectory())
    return { files: [], dir: first };
  return { files: paths, dir: dirname(first) };
}

/**
 * A compose file or .env: a few KB. One of megabytes is no compose file, and the YAML parser's
 * time grows faster than the input's size. No such file is undefined.
 */
function readComposeText(f: string): string | undefined {
  try {
    return readRegularFile(f, COMPOSE_FILE_MAX).toString("utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") return undefined;
    if (e instanceof UnreadableFileError)
      throw new ConfigError(f, [
        { path: "", message: `${e.why}: expected a compose file, which is a few KB` },
      ]);
    throw new ConfigError(f, [{ path: "", message: `cannot read: ${err.message}` }]);
  }
}
