import assert from "node:assert/strict";
import { test } from "node:test";
import { isMountPoint } from "./overlay.js";

test("a mount point is found in mountinfo, with the kernel's octal escapes", () => {
  const info = [
    "36 35 98:0 / /mnt1 rw,noatime master:1 - ext3 /dev/root rw",
    "90 25 0:60 / /run/railyard/rootfs/railyard-db rw - overlay overlay rw,lowerdir=/a",
    "91 25 0:61 / /srv/with\\040space rw - tmpfs tmpfs rw",
  ].join("\n");
  assert.ok(isMountPoint(info, "/run/railyard/rootfs/railyard-db"));
  assert.ok(isMountPoint(info, "/srv/with space"));
  assert.ok(!isMountPoint(info, "/run/railyard/rootfs/railyard-web"));
});
