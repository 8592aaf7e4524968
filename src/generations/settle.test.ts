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

test("every unit is watched at once for the settle time; each death is reported once", async () => {
  // Pure logic over what systemctl shows: b restarts at the third look, a stays up.
  let looks = 0;
  const fake = {
    show: async (units: readonly string[]) => {
      looks++;
      return units.map((id) => ({
        Id: id,
        ActiveState: "active",
        SubState: "running",
        NRestarts: id === "b" && looks >= 3 ? "1" : "0",
        Result: "success",
      }));
    },
  } as unknown as Systemctl;
  let slept = 0;
  const dead = await watchSettle(fake, ["a", "b"], 1000, async (ms) => void (slept += ms));
  assert.deepEqual(dead, ["b"]);
  assert.equal(slept, 1000, "one settle time for all units, not one each");
  assert.deepEqual(await watchSettle(fake, ["a"], 0), [], "0 does not wait");
});
