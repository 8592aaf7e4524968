import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { ClosureError } from "../errors.js";
import { hostFs } from "./fs.js";
import { hostServiceReader, toForeground } from "./service.js";

// A root with a packaged daemon as dpkg leaves one: status, file lists, a postinst, a unit and
// an admin's drop-in, the directories its package owns, and what its postinst made.
const root = mkdtempSync(join(tmpdir(), "railyard-service-"));
after(() => rmSync(root, { recursive: true, force: true }));
const put = (path: string, text = "") => {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
};
const dir = (path: string) => mkdirSync(join(root, path), { recursive: true });
const status = (name: string, source: string) =>
  `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\nSource: ${source}\n`;
put(
  "var/lib/dpkg/status",
  [
    `${status("exd", "exd")}Depends: exd-data, other\n`,
    status("exd-common", "exd"),
    status("exd-data", "exd-data"),
    status("other", "o"),
  ].join("\n"),
);
put("var/lib/dpkg/info/exd.list", "/usr\n/usr/sbin\n/usr/sbin/exd\n");
put(
  "var/lib/dpkg/info/exd-common.list",
  "/etc\n/etc/exd\n/etc/exd/exd.conf\n/etc/exd/enabled\n/lib/systemd/system/exd.service\n/var/lib/exd\n/var/log/exd\n/var/cache/exd\n/var/lib/misc\n/usr/lib/tmpfiles.d/exd.conf\n/etc/runit\n/etc/runit/runsvdir\n/var/log/runit\n",
);
// A dependency that keeps data of its own joins; one that shares its directory does not.
put("var/lib/dpkg/info/exd-data.list", "/var\n/var/lib\n/var/lib/exd-data\n");
put("var/lib/dpkg/info/other.list", "/etc\n/srv/shared\n/var/lib/misc\n");
put("usr/lib/tmpfiles.d/exd.conf", "# sockets\nd /run/exd-sock 0770 exd exd -\nf /run/exd.flag\n");
dir("var/lib/exd-data");
dir("var/lib/misc");
// runit's files beside the systemd unit (as dnsmasq ships them): another init's, not taken.
dir("var/log/runit");
dir("etc/runit/runsvdir");
symlinkSync("/etc/sv/exd", join(root, "etc/runit/runsvdir/exd"));
put(
  "var/lib/dpkg/info/exd-common.postinst",
  "#!/bin/sh\nln -s /etc/exd/exd.conf /etc/exd/enabled/default\nmkdir -p /srv/exd\ncp /usr/share/exd/index.html /srv/exd/index.html\nchown exd /var/lib/exd\n",
);
put("usr/sbin/exd", "#!/bin/sh\n");
put("etc/exd/exd.conf", "x\n");
dir("etc/exd/enabled");
symlinkSync("/etc/exd/exd.conf", join(root, "etc/exd/enabled/default"));
put("srv/exd/index.html", "hi\n");
dir("var/lib/exd");
dir("var/log/exd");
dir("var/cache/exd");
put(
  "lib/systemd/system/exd.service",
  [
    "[Service]",
    "Type=forking",
    "Environment=OPTS=--verbose",
    "EnvironmentFile=-/etc/default/exd",
    "EnvironmentFile=-/etc/default/missing",
    "ExecStart=/usr/sbin/exd --daemonize yes $OPTS",
    "ExecStop=/sbin/start-stop-daemon --stop --retry TERM/5 --pidfile /run/exd.pid",
    "User=exd",
    "AmbientCapabilities=CAP_NET_BIND_SERVICE",
    "RuntimeDirectory=exd",
    "RuntimeDirectoryMode=2755",
    "ReadWritePaths=-/var/lib/exd -/var/spool/none",
  ].join("\n"),
);
put("etc/default/exd", "A=1\n");
put("etc/systemd/system/exd.service.d/local.conf", "[Service]\nKillSignal=SIGINT\n");
const read = hostServiceReader(hostFs(root), "amd64");

test("a packaged daemon as its unit and packages say it runs", () => {
  const h = read({ program: "/usr/sbin/exd" });
  assert.ok(h);
  assert.deepEqual(
    h.packages,
    ["exd", "exd-common", "exd-data"],
    "its own, its source's, and a dependency that keeps data; not another's",
  );
  assert.equal(h.unit, "/lib/systemd/system/exd.service");
  assert.deepEqual(h.execStart, ["/usr/sbin/exd", "--daemonize", "yes", "--verbose"]);
  assert.deepEqual(h.foreground?.argv, ["/usr/sbin/exd", "--daemonize", "no", "--verbose"]);
  assert.deepEqual(
    h.stopSignal,
    { signal: "SIGINT", from: "exd.service KillSignal=" },
    "the drop-in's",
  );
  assert.equal(h.user, "exd");
  assert.deepEqual(h.ambientCapabilities, ["NET_BIND_SERVICE"]);
  assert.deepEqual(h.environment, { OPTS: "--verbose" });
  assert.deepEqual(h.environmentFiles, ["/etc/default/exd"], "a missing '-' file is left out");
  assert.deepEqual(
    h.writable.map((w) => [w.path, w.kind, w.seed]),
    [
      ["/run", "tmpfs", false],
      ["/run/exd", "tmpfs", false],
      ["/run/exd-sock", "tmpfs", false],
      ["/var/cache/exd", "tmpfs", false],
      ["/var/lib/exd", "volume", true],
      ["/var/lib/exd-data", "volume", true],
      ["/var/log/exd", "volume", false],
    ],
  );
  const run = h.writable.find((w) => w.path === "/run/exd");
  assert.deepEqual([run?.mode, run?.user, run?.group], [0o2755, "exd", "exd"]);
  const sock = h.writable.find((w) => w.path === "/run/exd-sock");
  assert.deepEqual([sock?.mode, sock?.user, sock?.from], [0o770, "exd", "exd-common's exd.conf"]);
  assert.ok(!h.writable.some((w) => w.path === "/var/lib/misc"), "shared with another package");
  assert.deepEqual(
    h.made.map((m) => m.path),
    ["/etc/exd/enabled/default", "/srv/exd/index.html"],
    "what the postinst made, not what a package owns or the system's own",
  );
});

test("the named unit gives the program; a missing unit or unowned program is an error naming it", () => {
  assert.equal(read({ service: "exd.service" })?.program, "/usr/sbin/exd");
  assert.throws(
    () => read({ service: "nope.service" }),
    (e: Error) => e instanceof ClosureError && /no unit nope\.service/.test(e.message),
  );
  assert.throws(() => read({ service: "x@y.service" }), /not a template/);
  assert.equal(read({ program: "/usr/bin/unpackaged" }), undefined, "no package: nothing to take");
});

test("a daemon's documented switch keeps it in the foreground", () => {
  assert.deepEqual(toForeground(["/usr/sbin/nginx", "-g", "daemon on; master_process on;"])?.argv, [
    "/usr/sbin/nginx",
    "-g",
    "daemon off; master_process on;",
  ]);
  assert.equal(
    toForeground(["/usr/sbin/lighttpd", "-D", "-f", "/etc/lighttpd/lighttpd.conf"]),
    undefined,
  );
});
