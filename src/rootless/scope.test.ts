import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveConfig } from "../config/resolve/index.js";
import { fakeContext, SCOPE } from "../../tests/helpers/context.js";
import {
  chooseRange,
  hostIdOf,
  idMappings,
  payloadCgroup,
  rootlessProblems,
  subordinateRanges,
} from "./scope.js";

test("subordinate ranges of a user, by name or by uid; the first full range is the one mapped", () => {
  const text = "other:1:65536\nnas:100000:1000\n# comment\n1000:300000:65536\nnas:bad:10\n";
  const ranges = subordinateRanges(text, "nas", 1000);
  assert.deepEqual(ranges, [
    { start: 100000, count: 1000 },
    { start: 300000, count: 65536 },
  ]);
  assert.deepEqual(chooseRange(ranges), { start: 300000, count: 65536 });
  // With no full range, the largest; with none, nothing.
  assert.deepEqual(
    chooseRange([
      { start: 5, count: 10 },
      { start: 50, count: 20 },
    ]),
    {
      start: 50,
      count: 20,
    },
  );
  assert.equal(chooseRange(subordinateRanges(text, "nobody", 65534)), undefined);
});

test("container root is the user; container ids 1..N are the subordinate range", () => {
  assert.deepEqual(idMappings(SCOPE), {
    uidMappings: [
      { containerID: 0, hostID: 1000, size: 1 },
      { containerID: 1, hostID: 100000, size: 65536 },
    ],
    gidMappings: [
      { containerID: 0, hostID: 1000, size: 1 },
      { containerID: 1, hostID: 200000, size: 65536 },
    ],
  });
  assert.equal(hostIdOf(0, 1000, SCOPE.subuid), 1000);
  assert.equal(hostIdOf(2000, 1000, SCOPE.subuid), 101999);
  assert.equal(hostIdOf(65537, 1000, SCOPE.subuid), undefined);
});

test("a user unit's container joins a cgroup under the user's manager", () => {
  const c = resolveConfig({ containers: { web: { args: ["/bin/true"] } } }, fakeContext())
    .containers["web"];
  assert.ok(c);
  assert.equal(
    payloadCgroup(c, SCOPE),
    "/user.slice/user-1000.slice/user@1000.service/app.slice/railyard-web.service/payload",
  );
  assert.equal(payloadCgroup(c), "/system.slice/railyard-web.service/payload");
});

test("what needs root is a config problem at its key, with what to do instead", () => {
  const config = resolveConfig(
    {
      networks: { back: {} },
      containers: {
        // Network "private" (with its ports) is pasta's.
        web: { args: ["/bin/true"], ports: ["8080:80"] },
        db: { args: ["/bin/true"], network: "back" },
        side: { args: ["/bin/true"], network: "container:web" },
        big: { args: ["/bin/true"], user: "70000:10", network: "none" },
        engine: { image: "docker.io/library/busybox", backend: "podman", network: "host" },
        gw: { args: ["/bin/true"], network: "private", extraHosts: { host: "host-gateway" } },
        gwHost: { args: ["/bin/true"], network: "host", extraHosts: { host: "host-gateway" } },
        fine: {
          args: ["/bin/true"],
          user: "65536:65536",
          network: "host",
          secrets: ["pw", { source: "pw", target: "/pw", uid: 65536 }],
        },
        vault: {
          args: ["/bin/true"],
          network: "host",
          secrets: ["sealed", { source: "pw", target: "/pw", gid: 70000 }],
        },
      },
      secrets: { pw: { file: "/home/nas/pw" }, sealed: { encrypted: "/home/nas/pw.cred" } },
    },
    fakeContext(),
  );
  const problems = rootlessProblems(config, SCOPE);
  const at = (path: string) => problems.find((p) => p.path === path)?.message ?? "";
  assert.deepEqual(problems.map((p) => p.path).sort(), [
    "containers.big.user",
    "containers.db.network",
    "containers.engine.backend",
    "containers.gw.extraHosts",
    "containers.side.network",
    "containers.vault.secrets[0]",
    "containers.vault.secrets[1].gid",
  ]);
  // A file secret is fine rootless; an encrypted one needs the host's key.
  assert.match(
    at("containers.vault.secrets[0]"),
    /encrypted with the host's key.*give it as a file/,
  );
  assert.match(at("containers.vault.secrets[1].gid"), /70000 is outside the ids/);
  assert.match(
    at("containers.db.network"),
    /named networks need root.*use "private" \(with pasta\)/,
  );
  assert.match(
    at("containers.side.network"),
    /joining another container's network namespace needs root/,
  );
  assert.match(
    at("containers.big.user"),
    /uid 70000 is outside the ids a rootless container maps \(0-65536/,
  );
  assert.match(at("containers.engine.backend"), /OCI runtime only, not podman/);
  // pasta runs with --no-map-gw: its gateway is not the host, so railyard cannot say the host's.
  assert.match(
    at("containers.gw.extraHosts"),
    /"host-gateway" is not reachable.*use network "host"/,
  );
});
