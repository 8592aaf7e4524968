import assert from "node:assert/strict";
import { test } from "node:test";
import { insideUid, parseStatus } from "./cgroup.js";
import { userNames } from "../cli/top.js";

test("a process's pids and uid come from /proc/PID/status; a rootless uid maps back inside", () => {
  const status = "Name:\tsleep\nUid:\t101999\t101999\t101999\t101999\nNSpid:\t4242\t7\n";
  assert.deepEqual(parseStatus(status), { nspid: [4242, 7], uid: 101999 });
  assert.equal(parseStatus("Name:\tx\n"), undefined, "a kernel without NSpid: nothing to say");
  const rootless = "         0       1500          1\n         1     100000      65536\n";
  assert.equal(insideUid(rootless, 1500), 0, "the user is container root");
  assert.equal(insideUid(rootless, 101999), 2000);
  assert.equal(insideUid(rootless, 99), undefined, "outside the map");
  assert.equal(insideUid("         0          0 4294967295\n", 33), 33, "no user namespace");
});

test("the container's user names come from its own passwd, first entry wins", () => {
  const names = userNames(
    "root:x:0:0::/root:/bin/sh\npostgres:x:999:999::/var/lib/pg:/bin/sh\ndup:x:999:1::/:/bin/sh\n#c\n",
  );
  assert.equal(names.get(0), "root");
  assert.equal(names.get(999), "postgres");
  assert.equal(names.get(5), undefined);
});
