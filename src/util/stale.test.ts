import assert from "node:assert/strict";
import { test } from "node:test";
import { isStaleTemp, tempPid } from "./stale.js";

test("temporary names carry the pid of their maker; only a dead maker's are stale", () => {
  assert.equal(tempPid("web-0123456789abcdef.tmp-4242"), 4242);
  assert.equal(tempPid("web-0123456789abcdef.old-4242"), 4242);
  assert.equal(tempPid(".tmp-4242-deadbeef"), 4242);
  assert.equal(tempPid(".tmp-7-4242"), 4242, "a generation being written: .tmp-GEN-PID");
  assert.equal(tempPid("index.json.tmp-4242-0badf00d"), 4242);
  assert.equal(tempPid("web-0123456789abcdef"), undefined, "a bundle");
  assert.equal(tempPid("sha256-abc"), undefined);
  const dead = (pid: number) => pid !== 1;
  assert.equal(
    isStaleTemp(".tmp-4242-deadbeef", (p) => !dead(p)),
    true,
  );
  assert.equal(
    isStaleTemp(".tmp-1-deadbeef", (p) => !dead(p)),
    false,
    "a live maker's work",
  );
  assert.equal(isStaleTemp(`x.tmp-${process.pid}`), false, "never our own");
});
