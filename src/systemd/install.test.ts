import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { syncUnitLinks, unitConflicts } from "./install.js";

const dir = mkdtempSync(join(tmpdir(), "railyard-install-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A state dir with a current generation that has `units`. */
function project(name: string, units: readonly string[]): string {
  const state = join(dir, name);
  mkdirSync(join(state, "generations/1/units"), { recursive: true });
  for (const u of units) writeFileSync(join(state, "generations/1/units", u), "[Service]\n");
  symlinkSync("generations/1", join(state, "current"));
  return state;
}

test("a unit another project, or no railyard, has in the unit dir is a conflict; its own and a dead link's are not", () => {
  const unitDir = join(dir, "system");
  mkdirSync(unitDir);
  const a = project("a", ["railyard-web.service", "railyard-db.service"]);
  const b = project("b", ["railyard-web.service", "railyard-cache.service"]);
  syncUnitLinks(unitDir, a, [
    { unit: "railyard-web.service", autoStart: true },
    { unit: "railyard-db.service", autoStart: true },
  ]);
  writeFileSync(join(unitDir, "railyard-cache.service"), "[Service]\n");
  // A project whose state dir was deleted left a link to nothing.
  symlinkSync(
    join(dir, "gone/current/units/railyard-old.service"),
    join(unitDir, "railyard-old.service"),
  );

  assert.deepEqual(unitConflicts(unitDir, a, ["railyard-web.service", "railyard-db.service"]), []);
  assert.deepEqual(
    unitConflicts(unitDir, b, [
      "railyard-web.service",
      "railyard-cache.service",
      "railyard-old.service",
      "railyard-new.service",
    ]),
    [
      { unit: "railyard-web.service", project: a },
      { unit: "railyard-cache.service", found: "a file" },
    ],
  );
});
