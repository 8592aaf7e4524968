import assert from "node:assert/strict";
import { test } from "node:test";
import {
  checkAbsolutePath,
  cleanPath,
  tmpfsMode,
  checkName,
  parseCapability,
  parseDevice,
  parseDuration,
  formatDuration,
  parseSignal,
  parseSize,
  parseTmpfs,
  parseUserSpec,
  parseVolume,
} from "./parse.js";

test("volumes: src:dst, :ro and :rw; relative or named sources are refused", () => {
  assert.deepEqual(parseVolume("/srv/data:/data"), {
    ok: true,
    value: { source: "/srv/data", destination: "/data", readonly: false },
  });
  assert.deepEqual(parseVolume("/srv/conf:/conf:ro"), {
    ok: true,
    value: { source: "/srv/conf", destination: "/conf", readonly: true },
  });
  const named = parseVolume("data:/data");
  assert.ok(
    !named.ok && /absolute host path/.test(named.error) && /named volumes/.test(named.error),
  );
  const mode = parseVolume("/a:/b:rx");
  assert.ok(!mode.ok && /"ro" or "rw"/.test(mode.error));
  assert.ok(!parseVolume("/a").ok);
  assert.ok(!parseVolume("/a:b").ok);
  assert.ok(!parseVolume("/a:/b/../c").ok);
});

test("absolute paths must be normalised", () => {
  assert.equal(checkAbsolutePath("/data"), undefined);
  assert.equal(checkAbsolutePath("/"), undefined);
  for (const bad of ["data", "/a//b", "/a/./b", "/a/../b", "/a/"])
    assert.ok(checkAbsolutePath(bad), bad);
});

test("container names are safe for unit names and paths", () => {
  for (const good of ["web", "one-drive", "db_1", "a.b", "A9"])
    assert.equal(checkName(good), undefined, good);
  for (const bad of ["", ".", "..", "-x", "a/b", "a b", "é", "x".repeat(64), "a@b"])
    assert.ok(checkName(bad), bad);
});

test("tmpfs, devices, sizes, signals, capabilities and users parse as documented", () => {
  assert.deepEqual(parseTmpfs("/tmp:size=64m,mode=1777"), {
    ok: true,
    value: { destination: "/tmp", options: ["size=64m", "mode=1777"] },
  });
  assert.deepEqual(parseDevice("/dev/fuse"), {
    ok: true,
    value: { hostPath: "/dev/fuse", path: "/dev/fuse", access: "rwm" },
  });
  assert.deepEqual(parseDevice("/dev/sdb:/dev/xvdc:r"), {
    ok: true,
    value: { hostPath: "/dev/sdb", path: "/dev/xvdc", access: "r" },
  });
  assert.ok(!parseDevice("/etc/passwd").ok);
  assert.ok(!parseDevice("/dev/fuse:/dev/fuse:rr").ok);
  assert.deepEqual(parseSize("512m"), { ok: true, value: 512 * 1024 * 1024 });
  assert.deepEqual(parseSize("1.5GiB"), { ok: true, value: 1.5 * 1024 ** 3 });
  assert.deepEqual(parseSize(4096), { ok: true, value: 4096 });
  assert.ok(!parseSize("lots").ok);
  assert.ok(!parseSize(-1).ok);
  assert.deepEqual(parseSignal("term"), { ok: true, value: "SIGTERM" });
  assert.deepEqual(parseSignal("9"), { ok: true, value: "SIGKILL" });
  assert.deepEqual(parseSignal("SIGRTMIN+3"), { ok: true, value: "SIGRTMIN+3" });
  assert.ok(!parseSignal("SIGNOPE").ok);
  assert.deepEqual(parseCapability("net_admin"), { ok: true, value: "CAP_NET_ADMIN" });
  assert.ok(!parseCapability("CAP_FLY").ok);
  assert.deepEqual(parseUserSpec("2000:100"), { ok: true, value: { user: "2000", group: "100" } });
  assert.deepEqual(parseUserSpec("nobody"), { ok: true, value: { user: "nobody" } });
  assert.ok(!parseUserSpec("abc:").ok);
  assert.ok(!parseUserSpec("-1").ok);
  assert.ok(!parseUserSpec("a b").ok);
});

test("durations: seconds or Go-style strings, to milliseconds and back", () => {
  const ms = (v: number | string) => {
    const p = parseDuration(v);
    assert.ok(p.ok, `${v}: ${p.ok ? "" : p.error}`);
    return p.value;
  };
  assert.equal(ms(30), 30_000);
  assert.equal(ms(1.5), 1500);
  assert.equal(ms("1m30s"), 90_000);
  assert.equal(ms("500ms"), 500);
  assert.equal(ms("2h"), 7_200_000);
  assert.equal(ms("0"), 0);
  for (const bad of ["", "30", "1x", "s", "-1s", "1m 30s"]) assert.ok(!parseDuration(bad).ok, bad);
  assert.ok(!parseDuration(-1).ok);
  for (const [n, s] of [
    [0, "0s"],
    [500, "500ms"],
    [1500, "1.5s"],
    [90_000, "1m30s"],
    [3_600_000, "1h"],
    [3_660_000, "1h1m"],
  ] as const) {
    assert.equal(formatDuration(n), s);
    assert.equal(ms(s), n);
  }
});

test("paths as docker writes them: trailing and doubled slashes are cleaned, .. is still refused", () => {
  assert.equal(cleanPath("/etc/pihole/"), "/etc/pihole");
  assert.equal(cleanPath("/srv//media/./x/"), "/srv/media/x");
  assert.equal(cleanPath("/"), "/");
  assert.deepEqual(parseVolume("/etc/pihole/:/etc/pihole/"), {
    ok: true,
    value: { source: "/etc/pihole", destination: "/etc/pihole", readonly: false },
  });
  assert.deepEqual(parseVolume("/srv/media/:/media/:ro"), {
    ok: true,
    value: { source: "/srv/media", destination: "/media", readonly: true },
  });
  const up = parseVolume("/srv/../etc:/x");
  assert.ok(!up.ok && /must be a normalised absolute path/.test(up.error));
  assert.deepEqual(parseTmpfs("/run/"), { ok: true, value: { destination: "/run", options: [] } });
  assert.equal(tmpfsMode([]), 0o1777);
  assert.equal(tmpfsMode(["size=1m", "mode=0755"]), 0o755);
  const bad = parseTmpfs("/tmp:mode=rwx");
  assert.ok(!bad.ok && /a mode is octal/.test(bad.error));
});
