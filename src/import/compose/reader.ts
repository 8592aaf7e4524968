/** Reading a compose document: typed access by key path, problems and warnings, interpolation. */
import { isRecord } from "../../util/record.js";
import { isAbsolute, posix } from "node:path";
import { formatPath } from "../../config/resolve/problems.js";
import { type ConfigProblem } from "../../errors.js";
import type { ContainerConfig } from "../../model/types.js";
import { interpolate, shellSplit, type Env } from "../interpolate.js";

export interface ImportContext {
  /** The compose file, for messages. */
  readonly file: string;
  /** The project directory: relative paths (volumes, env_file) resolve against it. */
  readonly dir: string;
  /** Variables for interpolation: the environment over the project's `.env`. */
  readonly env: Env;
  /** Where named volumes become host directories. */
  readonly volumesDir: string;
  /** The user's home, which `~` at the start of a host path names. */
  readonly home: string;
  /** The document's strings were interpolated already (a project's files, one by one). */
  readonly interpolated?: boolean;
}

export type Path = (string | number)[];
export type Obj = Record<string, unknown>;

/** One compose service being read: the service, where it is, the reader, the container made. */
export interface ServiceRead {
  readonly s: Obj;
  readonly at: Path;
  readonly r: Reader;
  readonly c: ContainerConfig;
}

export class Reader {
  readonly problems: ConfigProblem[] = [];
  readonly warnings: string[] = [];
  constructor(readonly ctx: ImportContext) {}
  problem(path: Path, message: string): void {
    this.problems.push({ path: formatPath(path), message });
  }
  warn(path: Path, message: string): void {
    this.warnings.push(`${formatPath(path)}: ${message}`);
  }
  /** A scalar as a string (YAML gives numbers for `user: 1000`), else a problem. */
  string(v: unknown, path: Path): string | undefined {
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    this.problem(path, `expected a string, got ${describe(v)}`);
    return undefined;
  }
  strings(v: unknown, path: Path): string[] {
    if (!Array.isArray(v)) {
      this.problem(path, `expected a list, got ${describe(v)}`);
      return [];
    }
    return v.flatMap((x, i) => this.string(x, [...path, i]) ?? []);
  }
  /** One string or a list of them (`tmpfs:`, `dns:`), as a list. */
  oneOrMany(v: unknown, path: Path): string[] {
    return typeof v === "string" ? [v] : this.strings(v, path);
  }
  /** `command:`/`entrypoint:` forms: a list, or a string split into words as compose does. */
  argv(v: unknown, path: Path): string[] | undefined {
    if (typeof v === "string") {
      const words = shellSplit(v);
      if (!words) this.problem(path, `${JSON.stringify(v)} has a quote that is not closed`);
      return words;
    }
    return this.strings(v, path);
  }
  /** `environment:`/`labels:` forms: a map, or a list of "KEY=value". */
  map(
    v: unknown,
    path: Path,
    bare: (key: string, at: Path) => string | undefined,
  ): Record<string, string> {
    const out: Record<string, string> = {};
    if (Array.isArray(v))
      v.forEach((item, i) => {
        const s = this.string(item, [...path, i]);
        if (s === undefined) return;
        const eq = s.indexOf("=");
        if (eq === -1) {
          const value = bare(s, [...path, i]);
          if (value !== undefined) out[s] = value;
        } else out[s.slice(0, eq)] = s.slice(eq + 1);
      });
    else if (isRecord(v))
      for (const [k, x] of Object.entries(v)) {
        if (x === null || x === undefined) {
          const value = bare(k, [...path, k]);
          if (value !== undefined) out[k] = value;
        } else {
          const s = this.string(x, [...path, k]);
          if (s !== undefined) out[k] = s;
        }
      }
    else this.problem(path, `expected a map or a list of "KEY=value", got ${describe(v)}`);
    return out;
  }
  /** A bare `KEY` (environment, build args): its value from the environment, and a warning. */
  fromEnv(k: string, p: Path): string | undefined {
    const v = this.ctx.env[k];
    if (v === undefined)
      this.warn(p, `${k} takes its value from the environment, where it is not set; left out`);
    else
      this.warn(
        p,
        `${k} takes its value from the environment; its current value is written into the config`,
      );
    return v;
  }
  /** A host path from the project: `~` is the user's home, relative ones are the project's. */
  hostPath(given: string): string {
    const p = expandHome(given, this.ctx.home);
    return isAbsolute(p) ? posix.normalize(p) : posix.join(this.ctx.dir, p);
  }
}

/** A host path as compose reads one: `~` (alone, or before a `/`) is the user's home. */
export const expandHome = (p: string, home: string): string =>
  p === "~" ? home : p.startsWith("~/") ? posix.join(home, p.slice(2)) : p;

export function describe(v: unknown): string {
  if (v === null) return "null";
  return typeof v === "object" ? kindOf(v) : `the ${typeof v} ${JSON.stringify(v)}`;
}

/** What kind of value v is, never the value: for a whole file, which may be anything (a secret). */
export function kindOf(v: unknown): string {
  if (v === null || v === undefined) return "an empty document";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "a map" : `a ${typeof v}`;
}

/** Every string value of the document interpolated; keys are left alone, as compose does. */
export function interpolateAll(v: unknown, r: Reader, path: Path): unknown {
  if (typeof v === "string") {
    const i = interpolate(v, r.ctx.env);
    if (i.error) r.problem(path, i.error);
    for (const name of i.unset)
      r.warn(path, `the variable ${name} is not set; it was replaced by ""`);
    return i.value;
  }
  if (Array.isArray(v)) return v.map((x, k) => interpolateAll(x, r, [...path, k]));
  if (isRecord(v))
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, interpolateAll(x, r, [...path, k])]),
    );
  return v;
}
