import assert from "node:assert/strict";
import { test } from "node:test";
import { rollbackTarget } from "./switch.js";

const none = () => false;

test("rollback goes to the newest generation before the current one that did not fail", () => {
  const failed = (n: number) => n === 4;
  assert.equal(rollbackTarget({ all: [1, 2, 3, 4, 5], current: 5, pending: undefined, failed }), 3);
  assert.equal(rollbackTarget({ all: [1, 2, 3], current: 3, pending: undefined, failed: none }), 2);
  // Nothing before the first, or nothing that did not fail: no target.
  assert.equal(
    rollbackTarget({ all: [1], current: 1, pending: undefined, failed: none }),
    undefined,
  );
  assert.equal(
    rollbackTarget({ all: [1, 2], current: 2, pending: undefined, failed: (n) => n === 1 }),
    undefined,
  );
  assert.equal(
    rollbackTarget({ all: [], current: undefined, pending: undefined, failed: none }),
    undefined,
  );
});

test("--to names any generation that exists, failed or not", () => {
  const failed = (n: number) => n === 2;
  assert.equal(
    rollbackTarget({ all: [1, 2, 3], current: 3, pending: undefined, failed, to: 2 }),
    2,
  );
  assert.equal(
    rollbackTarget({ all: [1, 2, 3], current: 3, pending: undefined, failed, to: 9 }),
    undefined,
  );
});

test("after an interrupted switch, the generation it was leaving; after an interrupted undo, where it was going", () => {
  const all = [1, 2, 3];
  // A switch from 2 to 3 was killed half way: back to 2.
  assert.equal(rollbackTarget({ all, current: 3, pending: { from: 2, to: 3 }, failed: none }), 2);
  // ... unless 2 had failed: then the newest good one before the current.
  assert.equal(
    rollbackTarget({ all, current: 3, pending: { from: 2, to: 3 }, failed: (n) => n === 2 }),
    1,
  );
  // An automatic rollback from 3 to 2 was killed: finish it, to 2.
  assert.equal(
    rollbackTarget({
      all,
      current: 3,
      pending: { from: 3, to: 2, rollingBackFrom: 3 },
      failed: none,
    }),
    2,
  );
});
