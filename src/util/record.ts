/**
 * `r[key]` when `key` is r's own: a name from the command line ("__proto__", "toString") never
 * reaches what every object inherits.
 */
export const own = <T>(r: Readonly<Record<string, T>>, key: string): T | undefined =>
  Object.hasOwn(r, key) ? r[key] : undefined;

/** A parsed JSON/YAML value that is a map (not null, not a list). */
export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
