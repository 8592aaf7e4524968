import assert from "node:assert/strict";
import { test } from "node:test";
import type { HostService } from "../../model/host-service.js";
import { ClosureError } from "../../errors.js";
import { fakeContext } from "../../../tests/helpers/context.js";
import { resolveConfig } from "./index.js";

// What closure/service.ts reads off a host for a root daemon like nginx and a user one like redis.
const ROOT_DAEMON: HostService = {
  program: "/usr/sbin/d",
  packages: ["d", "d-common"],
  unit: "/lib/systemd/system/d.service",
  execStart: ["/usr/sbin/d", "-g", "daemon on;"],
  foreground: { argv: ["/usr/sbin/d", "-g", "daemon off;"], change: "daemon off" },
  type: "forking",
  stopSignal: { signal: "SIGQUIT", from: "d.service ExecStop=" },
  ambientCapabilities: [],
  environment: { LANG: "C", MODE: "prod" },
  environmentFiles: ["/etc/default/d"],
  writable: [
    {
      path: "/run/d",
      kind: "tmpfs",
      mode: 0o2755,
      user: "daemon",
      group: "daemon",
      seed: false,
      from: "d.service RuntimeDirectory=",
    },
    {
      path: "/var/lib/d",
      kind: "volume",
      mode: 0o755,
      uid: 0,
      gid: 0,
      seed: true,
      from: "d-common owns /var/lib/d",
    },
  ],
  made: [
    { path: "/etc/d/enabled/default", from: "postinst" },
    { path: "/var/www/d/index.html", from: "postinst" },
  ],
};
const users: Record<string, { uid: number; gid: number }> = {
  root: { uid: 0, gid: 0 },
  daemon: { uid: 1, gid: 1 },
  redis: { uid: 101, gid: 102 },
};
const ctx = (h: HostService | Error | undefined) =>
  fakeContext({
    lookupUser: (n) => users[n],
    lookupGroup: (n) => users[n]?.gid,
    userName: (u) => Object.keys(users).find((n) => users[n]?.uid === u),
    groupName: (g) => Object.keys(users).find((n) => users[n]?.gid === g),
    hostService: () => {
      if (h instanceof Error) throw h;
      return h;
    },
  });

test("a host program takes what its unit and packages say, and says where each came from", () => {
  const c = resolveConfig({ containers: { web: { service: "d.service" } } }, ctx(ROOT_DAEMON))
    .containers["web"];
  assert.deepEqual(c?.args, ["/usr/sbin/d", "-g", "daemon off;"]);
  assert.equal(c?.stopSignal, "SIGQUIT");
  assert.deepEqual(c?.environment, { LANG: "C", MODE: "prod" });
  assert.deepEqual(c?.environmentFiles, ["/etc/default/d"]);
  assert.deepEqual(c?.include, ["/etc/d/enabled/default", "/var/www/d/index.html"]);
  // Root, bounding nothing: what a master needs to start its workers as another user.
  assert.deepEqual(Object.keys(c?.capabilities ?? {}).sort(), [
    "CAP_CHOWN",
    "CAP_SETGID",
    "CAP_SETUID",
  ]);
  assert.deepEqual(
    c?.fromHost?.writable.map((w) => [w.path, w.uid, w.gid]),
    [
      ["/run/d", 1, 1],
      ["/var/lib/d", 0, 0],
    ],
    "the unit's owner names are the host's ids",
  );
  assert.deepEqual(
    c?.fromHost?.took.map((t) => t.key),
    [
      "args",
      "stopSignal",
      "capabilities",
      "environment.LANG",
      "environment.MODE",
      "environmentFiles",
      "include",
      "include",
      "tmpfs",
      "volumes",
    ],
  );
});

test("every key the config sets wins; exclude takes a file out; service: false takes nothing", () => {
  const c = resolveConfig(
    {
      containers: {
        web: {
          args: ["/usr/sbin/d", "-c", "/srv/d.conf"],
          user: "redis",
          stopSignal: "SIGTERM",
          capabilities: { CHOWN: false },
          environment: { MODE: "dev" },
          environmentFiles: [],
          exclude: ["/var/www/d", "/var/lib/d"],
        },
        plain: { args: ["/usr/sbin/d"], service: false },
      },
    },
    ctx(ROOT_DAEMON),
  ).containers;
  const web = c["web"];
  assert.deepEqual(web?.args, ["/usr/sbin/d", "-c", "/srv/d.conf"]);
  assert.equal(web?.user?.name, "redis");
  assert.equal(web?.stopSignal, "SIGTERM");
  assert.equal(web?.capabilities["CAP_CHOWN"], false);
  assert.equal(web?.capabilities["CAP_SETUID"], true);
  assert.deepEqual(web?.environment, { LANG: "C", MODE: "dev" });
  assert.deepEqual(web?.environmentFiles, []);
  assert.deepEqual(web?.include, ["/etc/d/enabled/default"]);
  assert.deepEqual(
    web?.fromHost?.writable.map((w) => w.path),
    ["/run/d"],
  );
  assert.equal(c["plain"]?.fromHost, undefined);
  assert.deepEqual(c["plain"]?.args, ["/usr/sbin/d"]);
});

test("a unit that runs its program as a user gives it its ambient capabilities only", () => {
  const redis: HostService = {
    ...ROOT_DAEMON,
    user: "redis",
    ambientCapabilities: ["NET_BIND_SERVICE"],
    boundingSet: [],
  };
  const c = resolveConfig({ containers: { kv: { args: ["/usr/sbin/d"] } } }, ctx(redis)).containers[
    "kv"
  ];
  assert.equal(c?.user?.uid, 101);
  assert.deepEqual(Object.keys(c?.capabilities ?? {}), ["CAP_NET_BIND_SERVICE"]);
});

test("no unit: the user its state belongs to; a root master whose workers' directories are closed may enter them", () => {
  const noUnit: HostService = { ...ROOT_DAEMON, stateOwner: { uid: 101, gid: 102, from: "state" } };
  delete (noUnit as { unit?: string }).unit;
  const db = resolveConfig({ containers: { db: { args: ["/usr/sbin/d"] } } }, ctx(noUnit))
    .containers["db"];
  assert.equal(db?.user?.name, "redis", "uid 101 is redis on this host");
  assert.deepEqual(Object.keys(db?.capabilities ?? {}), [], "no unit: no capabilities taken");
  const closed: HostService = {
    ...ROOT_DAEMON,
    writable: [
      {
        path: "/var/cache/d",
        kind: "tmpfs",
        mode: 0o750,
        uid: 33,
        gid: 33,
        seed: false,
        from: "x",
      },
    ],
  };
  const web = resolveConfig({ containers: { web: { service: "d.service" } } }, ctx(closed))
    .containers["web"];
  assert.equal(web?.capabilities["CAP_DAC_READ_SEARCH"], true);
  assert.match(
    web?.fromHost?.took.find((t) => t.key === "capabilities")?.from ?? "",
    /to reach \/var\/cache\/d, which only that user may enter/,
  );
});

test("a unit railyard cannot use is an error at service, naming it; never half a container", () => {
  assert.throws(
    () =>
      resolveConfig(
        { containers: { web: { service: "nope.service" } } },
        ctx(new ClosureError("no unit nope.service on this host", "nope.service")),
      ),
    /containers\.web\.service: no unit nope\.service on this host/,
  );
  const bg = { ...ROOT_DAEMON };
  delete (bg as { foreground?: unknown }).foreground;
  assert.throws(
    () => resolveConfig({ containers: { web: { service: "d.service" } } }, ctx(bg)),
    /containers\.web\.service: d\.service runs \/usr\/sbin\/d in the background \(Type=forking\)/,
  );
  assert.throws(
    () =>
      resolveConfig(
        { containers: { web: { image: "nginx", service: "d.service" } } },
        ctx(ROOT_DAEMON),
      ),
    /containers\.web\.service: only applies to host programs/,
  );
});
