import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "../errors.js";
import { parseArgs, type FlagSpec } from "./args.js";

const spec = (cmd: string | undefined): FlagSpec =>
  cmd === "run" ? { long: { tty: false }, short: { t: "tty" } } : { long: {} };

test("global flags go anywhere before --; command flags and rest args are kept apart", () => {
  const a = parseArgs(
    ["--config", "x.ts", "run", "-t", "web", "--json", "--state-dir=/srv", "--", "-a", "--b"],
    spec,
  );
  assert.equal(a.command, "run");
  assert.deepEqual(a.positionals, ["web"]);
  assert.deepEqual(a.flags, { tty: true });
  assert.deepEqual(a.rest, ["-a", "--b"]);
  assert.equal(a.globals.config, "x.ts");
  assert.equal(a.globals.stateDir, "/srv");
  assert.equal(a.globals.json, true);
});

test("unknown flags and missing values are usage errors", () => {
  assert.throws(
    () => parseArgs(["build", "--frobnicate"], spec),
    (e: unknown) =>
      e instanceof UsageError && /unknown flag --frobnicate for "build"/.test(e.message),
  );
  assert.throws(() => parseArgs(["build", "-t"], spec), /unknown flag -t/);
  assert.throws(() => parseArgs(["--config"], spec), /--config needs a value/);
  assert.throws(() => parseArgs(["run", "--tty=yes"], spec), /--tty takes no value/);
});

test('"-" and negative numbers are values of a flag, for the command to check', () => {
  const spec = () => ({ long: { out: true, keep: true } });
  assert.equal(parseArgs(["export", "compose", "--out", "-"], spec).flags["out"], "-");
  assert.equal(parseArgs(["gc", "--keep", "-1"], spec).flags["keep"], "-1");
  assert.throws(() => parseArgs(["gc", "--keep", "--json"], spec), /--keep needs a value/);
});
