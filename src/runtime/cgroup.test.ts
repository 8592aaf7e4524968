import assert from "node:assert/strict";
import { test } from "node:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cgroupUsage, insideUid, parseNetDev, parseStatus } from "./cgroup.js";
import { userNames } from "../bundle/process.js";
import { statsRow } from "../cli/stats.js";
import { bytes } from "../cli/progress.js";

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

test("usage comes from cgroup2 where it keeps it, else from cgroup v1's controllers, and is absent, not 0, where neither does", () => {
  const root = mkdtempSync(join(tmpdir(), "railyard-cgroup-"));
  try {
    const unit = "/system.slice/railyard-db.service";
    const put = (path: string, text: string) => {
      mkdirSync(join(root, path, ".."), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    // A hybrid host: cgroup2 at unified/ with no controllers but cpu.stat; v1 has the rest.
    put("unified/cgroup.controllers", "hugetlb\n");
    put(`unified${unit}/cpu.stat`, "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n");
    put(`memory${unit}/memory.usage_in_bytes`, "1048576\n");
    put(`memory${unit}/memory.limit_in_bytes`, "9223372036854771712\n");
    put(`pids${unit}/pids.current`, "3\n");
    put(
      `blkio${unit}/blkio.throttle.io_service_bytes`,
      "8:0 Read 4096\n8:0 Write 512\n8:0 Sync 1\nTotal 4608\n",
    );
    assert.deepEqual(cgroupUsage(unit, root), {
      cpuNs: 2_500_000,
      memory: { current: 1048576 },
      pids: 3,
      io: { read: 4096, write: 512 },
    });
    // cgroup2 with the controllers (a unified host) wins.
    put(`unified${unit}/memory.current`, "2048\n");
    put(`unified${unit}/memory.max`, "max\n");
    put(
      `unified${unit}/io.stat`,
      "8:0 rbytes=10 wbytes=20 rios=1 wios=1\n8:16 rbytes=1 wbytes=2\n",
    );
    const u = cgroupUsage(unit, root);
    assert.deepEqual(u.memory, { current: 2048 }, '"max" is no limit');
    assert.deepEqual(u.io, { read: 11, write: 22 });
    // Nothing at all for an unknown cgroup.
    assert.deepEqual(cgroupUsage("/system.slice/none.service", root), {});
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a container's own network traffic: every interface but loopback", () => {
  const dev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  999999     10    0    0    0     0          0         0   999999      10    0    0    0     0       0          0
  eth0:    1500     12    0    0    0     0          0         0      700       8    0    0    0     0       0          0
`;
  assert.deepEqual(parseNetDev(dev), { rx: 1500, tx: 700 });
});

test("stats says n/a with the reason where the host keeps no figure, never 0", () => {
  const row = statsRow(
    "db",
    "active/running",
    { cpuNs: 0 },
    { cpuNs: 500_000_000 },
    1000,
    { count: 3 },
    undefined,
    true,
  );
  assert.equal(row.cpuPercent, 50);
  assert.equal(row.memory, null);
  assert.equal(row.pids, 3, "the processes the cgroup lists, without a pids controller");
  assert.equal(row.net, null);
  assert.deepEqual(
    row.missing.map((m) => m.split(":")[0]),
    ["memory", "block IO", "net"],
  );
  assert.equal(bytes(1536), "1.5 KiB", "the pull progress's own format");
});
