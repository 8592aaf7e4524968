/** Problems as people read them: key paths, valibot's issues in words, a hint for a misspelt key. */
import * as v from "valibot";
import { type ConfigProblem } from "../../errors.js";
import { containerSchema, topSchema } from "./schema.js";

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

/** Key path as users write it: `containers.web.mounts./data.source`, `volumes[1]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    // A key no one could type after a dot (a space, a quote, nothing) is shown quoted.
    else if (!/^[^\s"']+$/.test(String(seg))) out += `[${JSON.stringify(String(seg))}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/** valibot's names of expected types, as people say them. */
export function typeName(expected: string): string {
  const names: Record<string, string> = {
    Array: "an array",
    Object: "an object",
    string: "a string",
    number: "a number",
    boolean: "a boolean",
  };
  const alts = expected.replace(/^\((.*)\)$/, "$1").split(" | ");
  return alts.map((t) => names[t] ?? article(t)).join(" or ");
}

export function schemaProblems(
  issues: readonly v.BaseIssue<unknown>[],
  prefix: readonly PropertyKey[],
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path ?? []).map((p) => p.key as PropertyKey)];
    const at = formatPath(path);
    if (issue.type === "strict_object") {
      const key = String(issue.input);
      problems.push({ path: at, message: "unknown key" + hint(key, path.slice(0, -1)) });
    } else if (issue.type === "picklist")
      problems.push({
        path: at,
        message: `${describe(issue.input)} is not allowed. expected one of ${(issue.expected ?? "")
          .replace(/^\((.*)\)$/, "$1")
          .split(" | ")
          .join(", ")}`,
      });
    else if (issue.kind === "schema")
      problems.push({
        path: at,
        message: `must be ${typeName(issue.expected ?? "")}, got ${describe(issue.input)}`,
      });
    else if (issue.type === "integer")
      problems.push({ path: at, message: `must be a whole number, got ${describe(issue.input)}` });
    else if (issue.type === "min_length") problems.push({ path: at, message: issue.message });
    else
      problems.push({
        path: at,
        message: `must be ${issue.expected ?? "valid"}, got ${describe(issue.input)}`,
      });
  }
  return problems;
}

export function article(t: string): string {
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

export const KNOWN_KEYS = [
  ...Object.keys(containerSchema.entries),
  ...Object.keys(topSchema.entries),
];
export function hint(key: string, path: readonly PropertyKey[]): string {
  const pool = path.length === 0 ? Object.keys(topSchema.entries) : KNOWN_KEYS;
  const near = pool.find(
    (k) =>
      k.toLowerCase() === key.toLowerCase() ||
      editDistance(k, key) <= Math.max(1, Math.floor(key.length / 3)),
  );
  return near ? ` (did you mean "${near}"?)` : "";
}

export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  return (d[a.length] as number[])[b.length] ?? 0;
}
