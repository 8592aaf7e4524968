import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import type AjvType from "ajv-draft-04";

// ajv-draft-04 is CommonJS; require gives its constructor directly.
const Ajv = createRequire(import.meta.url)("ajv-draft-04") as typeof AjvType.default;
import { OCI_SCHEMAS } from "./paths.js";

type Validate = ((data: unknown) => boolean) & { errors?: unknown };

/**
 * A validator for one of the official OCI JSON schemas. Every file of the schema's folder is
 * loaded first, since they $ref each other by file name.
 */
export function ociValidator(
  folder: "runtime-spec" | "image-spec",
  top: string,
): (data: unknown) => string[] {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const dir = join(OCI_SCHEMAS, folder);
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".json")))
    if (f !== top) ajv.addSchema(JSON.parse(readFileSync(join(dir, f), "utf8")) as object, f);
  const validate = ajv.compile(
    JSON.parse(readFileSync(join(dir, top), "utf8")) as object,
  ) as Validate;
  return (data) => (validate(data) ? [] : [JSON.stringify(validate.errors, null, 2)]);
}
