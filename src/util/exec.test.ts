import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { exec } from "./exec.js";

/** Running, not a zombie waiting for an init that may be slow to reap it. */
const alive = (pid: number) => {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
};

test("a hook that leaves something running in the background is not waited on past a second", async () => {
  const t0 = Date.now();
  const r = await exec("/bin/sh", ["-c", "sleep 30 & echo $!; echo started"], { group: true });
  assert.ok(Date.now() - t0 < 5000, `${Date.now() - t0} ms`);
  assert.equal(r.code, 0);
  const [pid, said] = r.stdout.trim().split("\n");
  assert.equal(said, "started");
  process.kill(Number(pid), "SIGKILL"); // the test's own cleanup
});

test("a hook past its time limit is killed with everything it started, and the call returns", async () => {
  const t0 = Date.now();
  const r = await exec("/bin/sh", ["-c", "sleep 30 & echo $!; wait"], {
    group: true,
    signal: AbortSignal.timeout(300),
  });
  assert.ok(Date.now() - t0 < 5000, `${Date.now() - t0} ms`);
  assert.equal(r.signal, "SIGKILL");
  const pid = Number(r.stdout.trim());
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((res) => setTimeout(res, 20));
  assert.equal(alive(pid), false, "the background sleep went with the group");
});
