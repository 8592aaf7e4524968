import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveConfig } from "../config/resolve/index.js";
import type { HostFacts } from "../host/facts.js";
import { fakeContext, SCOPE } from "../../tests/helpers/context.js";
import { planContainer, unmappedIds, type ContainerInputs } from "./build.js";
import { hostProcess } from "./process.js";

// Nothing here exists on this host: planning must take it all from the inputs.
const NOWHERE = "/nonexistent/railyard-plan";
const config = resolveConfig(
  {
    stateDir: `${NOWHERE}/state`,
    containers: {
      app: {
        args: [`${NOWHERE}/bin/app`, "--serve"],
        network: "private",
        devices: ["/dev/railyard-plan-ttyACM0:/dev/ttyACM0"],
      },
    },
  },
  fakeContext(),
);
const app = config.containers["app"];
assert.ok(app);

const FACTS: HostFacts = {
  hardLimits: { nofile: 512 },
  accounts: { passwd: "root:x:0:0:root:/root:/bin/sh\n", group: "root:x:0:\n" },
  resolvConf: "nameserver 192.0.2.53\n",
  resolvedConf: undefined,
};

const APP_STAT = {
  kind: "file",
  mode: 0o755,
  size: 1,
  mtimeMs: 0,
  ino: 1,
  dev: 1,
  uid: 0,
  gid: 0,
} as const;

const inputs = (facts: HostFacts = FACTS, extraHosts: string[] = []): ContainerInputs => ({
  src: {
    process: hostProcess(app, `${NOWHERE}/bin/app`),
    closure: new Map([
      [
        `${NOWHERE}/bin/app`,
        { kind: "file", source: `${NOWHERE}/bin/app`, mode: 0o755, stat: APP_STAT },
      ],
    ]),
    packages: [],
  },
  program: `${NOWHERE}/bin/app`,
  facts,
  extra: [],
  secrets: [],
  fileMounts: new Set(),
  cdi: undefined,
  devices: { "/dev/railyard-plan-ttyACM0": { type: "c", major: 166, minor: 0, fileMode: 0o660 } },
  seccomp: {},
  fileEnv: {},
  extraHosts,
});

test("a bundle is planned from what was read before: a device, a nameserver and a limit no host file holds", () => {
  const p = planContainer(config, app, inputs());
  assert.deepEqual(
    p.spec.linux.devices?.map((d) => [d.path, d.type, d.major, d.minor]),
    [["/dev/ttyACM0", "c", 166, 0]],
  );
  const resolv = p.rootfs.entries.get("/etc/resolv.conf");
  assert.ok(resolv?.kind === "data");
  assert.match(resolv.content, /192\.0\.2\.53/);
  assert.deepEqual(p.spec.process.rlimits, [{ type: "RLIMIT_NOFILE", hard: 512, soft: 512 }]);
  assert.ok(p.dir.startsWith(`${NOWHERE}/state/bundles/app-`), p.dir);
});

test("the same inputs plan the same bundle; a changed host fact names a new one, so a switch rebuilds", () => {
  const once = planContainer(config, app, inputs());
  assert.equal(planContainer(config, app, inputs()).fingerprint, once.fingerprint);
  const lower = planContainer(config, app, inputs({ ...FACTS, hardLimits: { nofile: 256 } }));
  assert.notEqual(lower.fingerprint, once.fingerprint);
  assert.notEqual(lower.dir, once.dir);
  const dns = planContainer(
    config,
    app,
    inputs({ ...FACTS, resolvConf: "nameserver 192.0.2.1\n" }),
  );
  assert.notEqual(dns.fingerprint, once.fingerprint);
});

test("extraHosts lines follow the container's own names in its /etc/hosts, and name a new bundle", () => {
  const once = planContainer(config, app, inputs());
  const p = planContainer(config, app, inputs(FACTS, ["10.90.0.2\thost.docker.internal"]));
  const hosts = p.rootfs.entries.get("/etc/hosts");
  assert.ok(hosts?.kind === "data");
  assert.match(hosts.content, /^127\.0\.1\.1\tapp\n10\.90\.0\.2\thost\.docker\.internal\n$/m);
  assert.notEqual(p.fingerprint, once.fingerprint);
});

test("rootless, a process's user and its groupAdd groups must be ids the user namespace maps", () => {
  const root = { user: { uid: 0, gid: 0, name: "root", group: "root" } };
  assert.equal(unmappedIds(app, { ...root, additionalGids: [44, 993] }, SCOPE), undefined);
  assert.equal(
    unmappedIds(app, { ...root, additionalGids: [44, 70000] }, SCOPE),
    "containers.app.groupAdd: the group 70000 is outside the ids a rootless container maps (0-65536:0-65536). use a group in that range",
  );
  assert.match(
    unmappedIds(app, { user: { uid: 70000, gid: 0, name: "u", group: "root" } }, SCOPE) ?? "",
    /containers\.app: the process runs as 70000:0, outside the ids a rootless container maps/,
  );
});
