import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import type AjvType from "ajv-draft-04";

// ajv-draft-04 is CommonJS; require gives its constructor directly.
const Ajv = createRequire(import.meta.url)("ajv-draft-04") as typeof AjvType.default;
import { OCI_SCHEMAS } from "./paths.js";

type Validate = ((data: unknown) => boolean) & { errors?: unknown };

/**
 * The schemas' `id`s (draft-04) rebase relative $refs onto opencontainers.org URLs that nest
 * differently per file; the files themselves refer to each other by file name. Dropping the
 * string-valued ids in memory (never on disk) lets every $ref resolve to the file it names.
 * The image-spec names draft-04 by its https URL, which Ajv knows by its http one: the same
 * meta-schema, so the http name is used.
 */
function withoutIds(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutIds);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k, x]) => !(k === "id" && typeof x === "string"))
        .map(([k, x]) => [
          k,
          k === "$schema" && typeof x === "string" ? x.replace(/^https:/, "http:") : withoutIds(x),
        ]),
    );
  return v;
}

/**
 * A validator for one of the official OCI JSON schemas. Every file of the schema's folder is
 * loaded first, since they $ref each other by file name.
 */
export function ociValidator(
  folder: "runtime-spec" | "image-spec",
  top: string,
): (data: unknown) => string[] {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const dir = OCI_SCHEMAS[folder];
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".json")))
    if (f !== top)
      ajv.addSchema(withoutIds(JSON.parse(readFileSync(join(dir, f), "utf8"))) as object, f);
  const validate = ajv.compile(
    withoutIds(JSON.parse(readFileSync(join(dir, top), "utf8"))) as object,
  ) as Validate;
  return (data) => (validate(data) ? [] : [JSON.stringify(validate.errors, null, 2)]);
}
