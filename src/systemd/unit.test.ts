import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { resolveConfig } from "../config/resolve/index.js";
import { REPO_ROOT } from "../../tests/helpers/paths.js";
import { renderEngineUnit } from "./engine.js";
import { mountArgs, overlayOf } from "../runtime/overlay.js";
import { BuildError } from "../errors.js";
import { execQuote, renderHealthUnits, renderUnit, shQuote, type UnitInputs } from "./unit.js";
import { fakeContext, SCOPE } from "../../tests/helpers/context.js";
import { loopback6Ports } from "../model/network.js";
import { renderProxyUnits } from "./proxy.js";
import { snapshot as snapshotIn } from "../../tests/helpers/snapshot.js";

const ctx = fakeContext({ file: "/etc/railyard/railyard.config.ts" });
const SNAPSHOTS = join(REPO_ROOT, "src/systemd/__snapshots__");

const snapshot = (name: string, text: string) => snapshotIn(SNAPSHOTS, name, text);

const onedrive = {
  user: "2000:100",
  volumes: ["/srv/onedrive/conf:/onedrive/conf", "/srv/onedrive/data:/onedrive/data"],
  environment: { ONEDRIVE_VERBOSE: "1" },
  environmentFiles: ["/etc/railyard/onedrive.env"],
  resources: { memory: "512m", cpus: 0.5, pids: 200 },
  network: "host",
  dependsOn: ["db"],
  stopTimeout: 30,
};
const config = (backend: string) =>
  resolveConfig(
    {
      containers: {
        onedrive: { image: "docker.io/driveone/onedrive:edge", backend, ...onedrive },
        db: {
          image: "docker.io/library/postgres:16",
          backend,
          autoStart: false,
          stopSignal: "SIGINT",
          network: "none",
        },
        host: { args: ["/usr/bin/onedrive", "--monitor"], ...onedrive, dependsOn: [] },
      },
    },
    ctx,
  );
const DIGEST = `sha256:${"ab".repeat(32)}`;

/** The unit of one container of `containers`, as runc runs it from the current generation. */
function unitFor(
  containers: Record<string, unknown>,
  name: string,
  extra: Partial<UnitInputs> = {},
): string {
  const c = resolveConfig({ containers }, ctx);
  const x = c.containers[name];
  assert.ok(x);
  return renderUnit(c, x, {
    runtime: "/usr/sbin/runc",
    bundle: `/var/lib/railyard/current/bundles/${name}`,
    realBundle: `/var/lib/railyard/bundles/${name}-0123456789abcdef`,
    stopSignal: "SIGTERM",
    ...extra,
  });
}

test("the runc unit of a OneDrive-like service matches its snapshot", () => {
  const c = config("oci");
  const od = c.containers["onedrive"];
  assert.ok(od);
  const text = renderUnit(c, od, {
    runtime: "/usr/sbin/runc",
    bundle: "/var/lib/railyard/current/bundles/onedrive",
    realBundle: "/var/lib/railyard/bundles/onedrive-0123456789abcdef",
    stopSignal: "SIGTERM",
  });
  snapshot("railyard-onedrive.oci.service", text);
  assert.match(text, /^Type=forking$/m);
  assert.match(
    text,
    /^ExecStart=\/usr\/sbin\/runc run --detach --pid-file \/run\/railyard\/onedrive\.pid --bundle \/run\/railyard\/bundles\/railyard-onedrive railyard-onedrive$/m,
  );
  // Its environmentFiles are read at start, into a config composed on /run from the bundle's.
  assert.match(
    text,
    /^ExecStartPre=\/usr\/bin\/awk -f \/var\/lib\/railyard\/current\/start-env\.awk \/etc\/railyard\/onedrive\.env \/var\/lib\/railyard\/bundles\/onedrive-0123456789abcdef\/config\.json$/m,
  );
  assert.match(text, /^MemoryMax=536870912$/m);
  assert.match(text, /^CPUQuota=50%$/m);
  assert.match(text, /^TasksMax=200$/m);
  assert.match(text, /^After=network-online\.target$/m);
  assert.match(text, /^Requires=railyard-db\.service$/m);
  const db = c.containers["db"];
  assert.ok(db);
  const dbText = renderUnit(c, db, {
    runtime: "/usr/sbin/runc",
    bundle: "/b",
    realBundle: "/b-real",
    stopSignal: "SIGINT",
  });
  assert.doesNotMatch(dbText, /network-online|\[Install\]/, "no network, not started at boot");
  assert.match(dbText, /^KillSignal=SIGINT$/m);
});

test("podman and docker units match NixOS oci-containers' shape, with the image pinned by digest", () => {
  for (const backend of ["podman", "docker"]) {
    const c = config(backend);
    const od = c.containers["onedrive"];
    assert.ok(od);
    const text = renderEngineUnit(c, od, {
      engine: `/usr/bin/${backend}`,
      image: `docker.io/driveone/onedrive@${DIGEST}`,
    });
    snapshot(`railyard-onedrive.${backend}.service`, text);
    assert.match(
      text,
      new RegExp(`^ExecStartPre=-/usr/bin/${backend} rm -f`, "m"),
      "idempotent before start",
    );
    assert.match(
      text,
      /--name=onedrive --log-driver=journald --pull=never/,
      "named, journald, never pulls at start",
    );
    assert.match(text, /--user=2000:100/);
    assert.match(text, / -v \/srv\/onedrive\/data:\/onedrive\/data /);
    assert.match(text, /--env-file=\/etc\/railyard\/onedrive\.env/);
    assert.match(text, new RegExp(`docker\\.io/driveone/onedrive@${DIGEST}`));
    assert.match(text, new RegExp(`^ExecStop=/usr/bin/${backend} stop`, "m"), "a graceful stop");
  }
});

test("host programs cannot use the docker or podman backends", () => {
  assert.throws(
    () => resolveConfig({ containers: { h: { args: ["/bin/true"], backend: "podman" } } }, ctx),
    /"podman" runs images only/,
  );
});

test("unit rendering is deterministic and quotes what systemd would split", () => {
  const c = config("oci");
  const od = c.containers["onedrive"];
  assert.ok(od);
  const u = {
    runtime: "/usr/sbin/runc",
    bundle: "/b",
    realBundle: "/b-real",
    stopSignal: "SIGTERM",
  };
  assert.equal(renderUnit(c, od, u), renderUnit(config("oci"), od, u));
  assert.equal(execQuote("/plain/path"), "/plain/path");
  assert.equal(execQuote("with space"), '"with space"');
  assert.equal(execQuote("100%"), "100%%");
  assert.equal(execQuote("$HOME"), '"$$HOME"');
});

test("a healthcheck adds a readiness wait to the unit, and a timer with a oneshot check", () => {
  const c = resolveConfig(
    {
      containers: {
        web: {
          image: "docker.io/library/nginx:1.25",
          healthcheck: {
            test: "wget -q -O /dev/null http://127.0.0.1/ || exit 1",
            interval: "10s",
            timeout: 3,
            retries: 2,
            startPeriod: "20s",
          },
        },
      },
    },
    ctx,
  );
  const web = c.containers["web"];
  assert.ok(web);
  const unit = renderUnit(c, web, {
    runtime: "/usr/sbin/runc",
    bundle: "/var/lib/railyard/current/bundles/web",
    realBundle: "/var/lib/railyard/bundles/web-0123456789abcdef",
    stopSignal: "SIGQUIT",
  });
  assert.match(unit, /^Wants=railyard-web-health\.timer$/m);
  // start period 20 s + 2 retries x 10 s + one 3 s check, rounded up, + 30 s of margin.
  assert.match(unit, /^TimeoutStartSec=73$/m);
  const post = /^ExecStartPost=(.*)$/m.exec(unit)?.[1] ?? "";
  assert.match(
    post,
    /timeout -s KILL 3 \/usr\/sbin\/runc exec railyard-web \/bin\/sh -c 'wget -q -O \/dev\/null http:\/\/127\.0\.0\.1\/ \|\| exit 1'/,
  );
  assert.match(post, /\$\$\(date \+%%s\)/, "$ and % are escaped for systemd");
  assert.match(post, /! kill -0 \\"\$\$MAINPID\\"/, "a container that died stops the wait");
  const health = renderHealthUnits(web, "/usr/sbin/runc");
  assert.deepEqual(Object.keys(health).sort(), [
    "railyard-web-health.service",
    "railyard-web-health.timer",
  ]);
  const timer = health["railyard-web-health.timer"] ?? "";
  assert.match(timer, /^PartOf=railyard-web\.service$/m);
  assert.match(timer, /^OnUnitActiveSec=10$/m);
  const check = health["railyard-web-health.service"] ?? "";
  assert.match(check, /^Requisite=railyard-web\.service$/m);
  assert.match(
    check,
    /-ge 2 \]; then echo \\"web: 2 failed checks in a row, restarting\\"; systemctl --no-block restart railyard-web\.service/,
  );
  snapshot("railyard-web-health.service", check);
  snapshot("railyard-web-health.timer", timer);
  assert.equal(shQuote("it's"), `'it'\\''s'`);
  const { healthcheck: _h, ...plain } = web;
  assert.deepEqual(renderHealthUnits(plain, "/x"), {}, "no healthcheck, no units");
});

test("a container with a network of its own sets it up before start and tears it down after stop", () => {
  const text = unitFor({ web: { args: ["/bin/httpd"], ports: ["8080:80"] } }, "web", {
    networkScript: "/var/lib/railyard/current/network/web.sh",
  });
  const lines = text.split("\n");
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  const up = at(/^ExecStartPre=\/bin\/sh \/var\/lib\/railyard\/current\/network\/web\.sh up$/);
  const start = at(/^ExecStart=/);
  const del = at(
    /^ExecStopPost=-\/bin\/sh -c "umount \/run\/runc\/railyard-web\/runc\.\* 2>\/dev\/null; exec \/usr\/sbin\/runc delete --force railyard-web"$/,
  );
  const down = at(/^ExecStopPost=-\/bin\/sh \/var\/lib\/railyard\/current\/network\/web\.sh down$/);
  assert.ok(up >= 0 && up < start, "up runs before the runtime");
  assert.ok(del >= 0 && del < down, "the container is gone before its namespace is removed");
  assert.match(text, /^After=network-online\.target$/m);
});

test("a rootless unit runs under the user's manager: runc's state and PID file in its runtime dir", () => {
  const c = { ...config("oci"), rootless: SCOPE, stateDir: "/home/nas/.local/state/railyard" };
  const od = c.containers["host"];
  assert.ok(od);
  const text = renderUnit(c, od, {
    runtime: "/usr/sbin/runc",
    bundle: "/home/nas/.local/state/railyard/current/bundles/host",
    realBundle: "/home/nas/.local/state/railyard/bundles/host-0123456789abcdef",
    stopSignal: "SIGTERM",
  });
  snapshot("railyard-host.rootless.service", text);
  assert.match(
    text,
    /^ExecStart=\/usr\/sbin\/runc --root \/run\/user\/1000\/runc run --detach --pid-file \/run\/user\/1000\/railyard\/host\.pid /m,
  );
  assert.match(
    text,
    /^ExecStopPost=-\/usr\/sbin\/runc --root \/run\/user\/1000\/runc delete --force railyard-host$/m,
  );
  assert.match(text, /^WantedBy=default\.target$/m);
  // The user manager has no network-online.target.
  assert.doesNotMatch(text, /network-online/);
  const health = renderHealthUnits(
    {
      ...od,
      healthcheck: { test: ["true"], interval: 5000, timeout: 1000, retries: 2, startPeriod: 0 },
    },
    "/usr/sbin/runc",
    SCOPE,
  );
  const check = health["railyard-host-health.service"] ?? "";
  assert.match(check, /runc --root \/run\/user\/1000\/runc exec railyard-host true/);
  assert.match(check, /systemctl --user --no-block restart railyard-host\.service/);
  assert.match(check, /\/run\/user\/1000\/railyard\/host\.health/);
});

test("a writable image root is mounted as an overlay before the runtime and unmounted after it", () => {
  const bundle = "/var/lib/railyard/bundles/db-0123456789abcdef";
  const overlay = overlayOf(bundle, "/var/lib/railyard/rootfs/sha256-abc", "railyard-db");
  const text = unitFor({ db: { image: "postgres:16" } }, "db", { stopSignal: "SIGINT", overlay });
  const lines = text.split("\n");
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  const mount = at(
    /^ExecStartPre=\/bin\/mount -t overlay overlay --mkdir=0755 -o lowerdir=\/var\/lib\/railyard\/bundles\/db-0123456789abcdef\/layer:\/var\/lib\/railyard\/rootfs\/sha256-abc,upperdir=\/var\/lib\/railyard\/bundles\/db-0123456789abcdef\/upper,workdir=\/var\/lib\/railyard\/bundles\/db-0123456789abcdef\/work \/run\/railyard\/rootfs\/railyard-db$/,
  );
  const start = at(/^ExecStart=/);
  const del = at(
    /^ExecStopPost=-\/bin\/sh -c "umount \/run\/runc\/railyard-db\/runc\.\* 2>\/dev\/null; exec \/usr\/sbin\/runc delete --force railyard-db"$/,
  );
  const umount = at(/^ExecStopPost=-\/bin\/umount \/run\/railyard\/rootfs\/railyard-db$/);
  assert.ok(mount >= 0 && mount < start, "mounted before the runtime starts");
  assert.ok(del >= 0 && del < umount, "unmounted once the container is gone");
  // overlayfs splits its options at "," and ":": such a state dir is refused at build.
  assert.throws(() => mountArgs(overlayOf("/srv/a,b/x", "/srv/r", "db"), "db"), BuildError);
});

test("an image container with a read-only root still unmounts the overlay point on stop", () => {
  // After a switch from a writable root, the stop that runs is the new unit's.
  const text = unitFor({ db: { image: "postgres:16", readonly: true } }, "db", {
    stopSignal: "SIGINT",
  });
  assert.doesNotMatch(text, /ExecStartPre=\/bin\/mount/);
  assert.match(text, /^ExecStopPost=-\/bin\/umount \/run\/railyard\/rootfs\/railyard-db$/m);
});

test('a container on "container:NAME" starts after NAME, stops with it and restarts with it', () => {
  const text = unitFor(
    {
      vpn: { args: ["/bin/true"], network: "private" },
      app: { args: ["/bin/true"], network: "container:vpn" },
    },
    "app",
  );
  for (const l of [
    "BindsTo=railyard-vpn.service",
    "After=railyard-vpn.service",
    "PartOf=railyard-vpn.service",
  ])
    assert.match(text, new RegExp(`^${l}$`, "m"));
  assert.doesNotMatch(text, /network\/app\.sh/, "no namespace of its own to set up");
});

test("ports on [::1]: a socket and a proxy per port, wanted by the container's unit", () => {
  const config = resolveConfig(
    {
      networks: { dual: { ipv6: true } },
      containers: {
        web: { args: ["/bin/true"], network: "dual", ports: ["8080:80", "53:53/udp"] },
      },
    },
    fakeContext(),
  );
  const c = config.containers["web"]!;
  const unit = renderUnit(config, c, {
    runtime: "/usr/sbin/runc",
    bundle: "/b",
    realBundle: "/b",
    stopSignal: "SIGTERM",
    networkScript: "/n.sh",
  });
  // TCP only: UDP without an address stays on 127.0.0.1.
  assert.match(unit, /^Wants=railyard-web-port8080\.socket$/m);
  const units = renderProxyUnits(c, loopback6Ports(c, config), "10.91.0.2");
  assert.deepEqual(Object.keys(units).sort(), [
    "railyard-web-port8080.service",
    "railyard-web-port8080.socket",
  ]);
  const socket = units["railyard-web-port8080.socket"] ?? "";
  assert.match(socket, /^ListenStream=\[::1\]:8080$/m);
  assert.match(socket, /^BindIPv6Only=ipv6-only$/m);
  assert.match(socket, /^PartOf=railyard-web\.service$/m);
  const service = units["railyard-web-port8080.service"] ?? "";
  assert.match(
    service,
    /^ExecStart=\/lib\/systemd\/systemd-socket-proxyd --exit-idle-time=60s 10\.91\.0\.2:80$/m,
  );
  assert.match(service, /^BindsTo=railyard-web\.service$/m);
  assert.match(service, /^DynamicUser=yes$/m);

  // Rootless, pasta binds [::1] itself: no socket is wanted, and none is made.
  const rootless = resolveConfig(
    { containers: { web: { args: ["/bin/true"], ports: ["[::1]:8080:80"] } } },
    fakeContext(),
  );
  const user = { ...rootless, rootless: SCOPE };
  const w = user.containers["web"]!;
  assert.deepEqual(loopback6Ports(w, user), []);
  assert.doesNotMatch(
    renderUnit(user, w, {
      runtime: "/usr/sbin/runc",
      bundle: "/b",
      realBundle: "/b",
      stopSignal: "SIGTERM",
    }),
    /\.socket/,
  );
  assert.deepEqual(loopback6Ports(w, rootless).length, 1, "as root, the proxy serves it");
});
