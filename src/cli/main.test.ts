import assert from "node:assert/strict";
import { test } from "node:test";
import { takesArguments } from "./main.js";

test("a command takes arguments only when its usage line names one besides flags", () => {
  for (const u of [
    "railyard check",
    "railyard generations",
    "railyard switch [--dry-run] [--settle S]",
    "railyard gc [--keep N] [--dry-run]",
    "railyard rollback [--to N] [--dry-run]",
  ])
    assert.equal(takesArguments(u), false, u);
  for (const u of [
    "railyard run NAME [-t] [-- ARGS...]",
    "railyard status [NAME] [--json]",
    "railyard build [NAME...] [--force]",
    "railyard import compose FILE [--format ts|json|yaml] [--volumes-dir DIR]",
  ])
    assert.equal(takesArguments(u), true, u);
});
