import assert from "node:assert/strict";
import { test } from "node:test";
import type { Systemctl } from "../systemd/systemctl.js";
import { died, watchSettle, type UnitState } from "./settle.js";

const up: UnitState = {
  id: "a",
  activeState: "active",
  subState: "running",
  restarts: 0,
  result: "success",
};

test("a unit died when it failed, waits to restart, was restarted, or stopped without success", () => {
  assert.equal(died(up, up), false);
  assert.equal(died(up, { ...up, activeState: "failed", subState: "failed" }), true);
  assert.equal(died(up, { ...up, activeState: "activating", subState: "auto-restart" }), true);
  assert.equal(died(up, { ...up, restarts: 1 }), true, "restarted between two looks");
  assert.equal(
    died(up, { ...up, activeState: "inactive", subState: "dead", result: "exit-code" }),
    true,
  );
  assert.equal(
    died(up, { ...up, activeState: "inactive", subState: "dead" }),
    false,
    "a clean exit",
  );
});

/** What systemctl shows (pure logic over it): every unit up, and "b" restarted from look `n` on. */
function restartsAtLook(n: number): Systemctl {
  let looks = 0;
  return {
    show: async (units: readonly string[]) => {
      looks++;
      return units.map((id) => ({
        Id: id,
        ActiveState: "active",
        SubState: "running",
        NRestarts: id === "b" && looks >= n ? "1" : "0",
        Result: "success",
      }));
    },
  } as unknown as Systemctl;
}

test("every unit is watched at once for the settle time; each death is reported once", async () => {
  // Pure logic over what systemctl shows: b restarts at the third look, a stays up.
  const fake = restartsAtLook(3);
  let slept = 0;
  const sleep = async (ms: number) => void (slept += ms);
  const dead = await watchSettle(
    fake,
    [
      { unit: "a", ms: 1000 },
      { unit: "b", ms: 1000 },
    ],
    sleep,
    () => slept,
  );
  assert.deepEqual(dead, ["b"]);
  assert.equal(slept, 1000, "one settle time for all units, not one each");
  slept = 0;
  assert.deepEqual(
    await watchSettle(fake, [{ unit: "a", ms: 0 }], sleep, () => slept),
    [],
    "0 does not wait",
  );
  assert.equal(slept, 0);
});

test("each unit is watched for its own settle time: a death after it is systemd's to handle", async () => {
  // b restarts at the fifth look (after 1 s of polls); its own settle time is 500 ms.
  const fake = restartsAtLook(5);
  let slept = 0;
  const dead = await watchSettle(
    fake,
    [
      { unit: "a", ms: 2000 },
      { unit: "b", ms: 500 },
    ],
    async (ms) => void (slept += ms),
    () => slept,
  );
  assert.deepEqual(dead, [], "b restarted after its 500 ms");
  assert.equal(slept, 2000, "the watch lasts as long as the longest settle time");
});
