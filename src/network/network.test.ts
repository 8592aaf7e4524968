import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { resolveConfig } from "../config/resolve.js";
import type { UserConfig } from "../config/types.js";
import { NetworkError } from "../errors.js";
import { fakeContext } from "../../tests/helpers/context.js";
import { REPO_ROOT } from "../../tests/helpers/paths.js";
import { snapshot } from "../../tests/helpers/snapshot.js";
import { overlaps, parseProcRoute, parseSubnet } from "./address.js";
import { allocateNetworks, type NetworkAllocation } from "./allocate.js";
import {
  containerNetwork,
  macFor,
  privateResolvConf,
  renderHostsFile,
  renderNetScript,
} from "./script.js";

const SNAPSHOTS = join(REPO_ROOT, "src/network/__snapshots__");
const resolve = (c: UserConfig) => resolveConfig(c, fakeContext());
const on = (network: string, extra: Record<string, unknown> = {}) => ({
  args: ["/bin/true"],
  network,
  ...extra,
});

test("subnets: parsed, checked for host bits, and compared", () => {
  const s = parseSubnet("10.91.3.0/24");
  assert.ok(s.ok);
  assert.deepEqual(parseSubnet("10.91.3.7/24"), {
    ok: false,
    error: '"10.91.3.7/24" has host bits set. did you mean "10.91.3.0/24"?',
  });
  assert.equal(parseSubnet("10.91.3.0/33").ok, false);
  assert.equal(parseSubnet("300.1.1.0/24").ok, false);
  const a = parseSubnet("10.0.0.0/8", 8, 30);
  const b = parseSubnet("10.91.0.0/16");
  const c = parseSubnet("192.168.0.0/16");
  assert.ok(a.ok && b.ok && c.ok);
  assert.ok(overlaps(a.value, b.value) && overlaps(b.value, a.value));
  assert.ok(!overlaps(a.value, c.value));
});

test("/proc/net/route: host byte order, default routes left out", () => {
  const text = [
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
    "eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0",
    "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
    "wg0\t00005B0A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0",
  ].join("\n");
  assert.deepEqual(
    parseProcRoute(text).map((r) => [r.iface, r.subnet]),
    [
      ["eth0", { base: 0xc0a80100, prefix: 24 }],
      ["wg0", { base: 0x0a5b0000, prefix: 16 }],
    ],
  );
});

test("allocation: named networks get free /24s, members the lowest free addresses", () => {
  const config = resolve({
    networks: { backend: {}, front: { subnet: "10.20.0.0/24" } },
    containers: { db: on("backend"), app: on("backend"), web: on("front"), x: on("private") },
  });
  assert.deepEqual(allocateNetworks(config), {
    networks: {
      backend: { subnet: "10.91.0.0/24", members: { app: "10.91.0.2", db: "10.91.0.3" } },
      front: { subnet: "10.20.0.0/24", members: { web: "10.20.0.2" } },
    },
    private: { x: "10.90.0.1" },
  });
});

test("allocation is stable: a switch that adds or removes a member moves nobody else", () => {
  const before = allocateNetworks(
    resolve({
      networks: { backend: {} },
      containers: { b: on("backend"), c: on("backend"), p: on("private"), q: on("private") },
    }),
  );
  // "a" sorts first, yet b and c keep theirs; "b" leaves and "a" takes the lowest free address.
  const after = allocateNetworks(
    resolve({
      networks: { backend: {}, later: {} },
      containers: { a: on("backend"), c: on("backend"), q: on("private"), r: on("private") },
    }),
    before,
  );
  assert.equal(after.networks["backend"]?.subnet, before.networks["backend"]?.subnet);
  assert.equal(after.networks["backend"]?.members["c"], before.networks["backend"]?.members["c"]);
  assert.equal(after.networks["backend"]?.members["a"], before.networks["backend"]?.members["b"]);
  assert.equal(after.private["q"], before.private["q"]);
  assert.equal(after.private["r"], before.private["p"]);
  assert.equal(after.networks["later"]?.subnet, "10.91.1.0/24");
});

test("allocation: the config's subnet wins over a previous one, and a full subnet is an error", () => {
  const previous: NetworkAllocation = {
    networks: { a: { subnet: "10.91.0.0/24", members: { x: "10.91.0.9" } } },
    private: {},
  };
  const moved = allocateNetworks(
    resolve({ networks: { a: { subnet: "10.30.0.0/24" } }, containers: { x: on("a") } }),
    previous,
  );
  assert.deepEqual(moved.networks["a"], { subnet: "10.30.0.0/24", members: { x: "10.30.0.2" } });
  const kept = allocateNetworks(
    resolve({ networks: { a: {} }, containers: { x: on("a") } }),
    previous,
  );
  assert.deepEqual(kept.networks["a"], previous.networks["a"]);
  // 2 members fit in a /29 easily, but a corrupt previous allocation cannot overflow it either.
  assert.throws(
    () =>
      allocateNetworks({
        ...resolve({ networks: { a: { subnet: "10.30.0.0/29" } }, containers: {} }),
        containers: Object.fromEntries(
          [1, 2, 3, 4, 5, 6].map((i) => [
            `c${i}`,
            resolve({ networks: { a: {} }, containers: { [`c${i}`]: on("a") } }).containers[
              `c${i}`
            ]!,
          ]),
        ),
      }),
    (e) => e instanceof NetworkError && /no free address left for containers\.c6/.test(e.message),
  );
});

test("the network script: namespace, link, address, published ports, and an undo record", () => {
  const config = resolve({
    networks: { backend: {} },
    containers: {
      app: on("backend", { ports: ["8080:80", "0.0.0.0:5353:53/udp"] }),
      solo: on("private", { ports: ["9000:90"] }),
    },
  });
  const alloc = allocateNetworks(config);
  const app = renderNetScript(containerNetwork(config.containers["app"]!, alloc, config)!);
  const solo = renderNetScript(containerNetwork(config.containers["solo"]!, alloc, config)!);
  for (const [name, text] of [
    ["app.sh", app],
    ["solo.sh", solo],
  ] as const) {
    snapshot(SNAPSHOTS, name, text);
    const syntax = spawnSync("/bin/sh", ["-n"], { input: text, encoding: "utf8" });
    assert.equal(syntax.status, 0, `${name}: ${syntax.stderr}`);
  }
  assert.match(
    app,
    /create element ip railyard published \{ 127\.0\.0\.1 \. tcp \. 8080 : 10\.91\.0\.2 \. 80 \}/,
  );
  assert.match(
    app,
    /create element ip railyard publishedany \{ udp \. 5353 : 10\.91\.0\.2 \. 53 \}/,
  );
  assert.match(app, /delete element ip railyard published \{ 127\.0\.0\.1 \. tcp \. 8080 \}/);
  assert.match(app, /master ry-backend/);
  assert.match(app, new RegExp(`address ${macFor("10.91.0.2")} netns railyard-app`));
  assert.match(solo, /ip addr add 10\.90\.0\.0\/31 dev ryv-/);
  assert.match(solo, /route add default via 10\.90\.0\.0/);
  assert.doesNotMatch(
    solo,
    /master|type bridge/,
    "a private container's link is routed, not bridged",
  );
});

test("a restarted container keeps its MAC address (docker's scheme)", () => {
  assert.equal(macFor("10.91.0.2"), "02:72:0a:5b:00:02");
  assert.equal(macFor("192.168.255.1"), "02:72:c0:a8:ff:01");
});

test("a named network's hosts file names every member, by name and hostname", () => {
  const config = resolve({
    networks: { backend: {} },
    containers: { db: on("backend", { hostname: "postgres" }), app: on("backend") },
  });
  assert.equal(
    renderHostsFile(config, ["backend"], allocateNetworks(config)),
    [
      "# written by railyard: the containers of network backend",
      "127.0.0.1\tlocalhost",
      "::1\tlocalhost ip6-localhost ip6-loopback",
      "10.91.0.2\tapp",
      "10.91.0.3\tdb postgres",
      "",
    ].join("\n"),
  );
});

test("resolv.conf for a network of its own: loopback nameservers are unreachable there", () => {
  assert.equal(
    privateResolvConf("search lan\nnameserver 127.0.0.53\nnameserver 9.9.9.9\n", undefined),
    "search lan\nnameserver 9.9.9.9\n",
  );
  // systemd-resolved's stub only: its upstream servers instead.
  assert.equal(
    privateResolvConf("nameserver 127.0.0.53\noptions edns0\n", "nameserver 192.168.1.1\n"),
    "nameserver 192.168.1.1\n",
  );
  assert.match(privateResolvConf("nameserver ::1\n", undefined), /^# .*no nameserver reachable/);
});

test("a container on two networks: an address on each, eth0 first, one default route", () => {
  const config = resolve({
    networks: { front: {}, back: {} },
    containers: {
      proxy: { args: ["/bin/true"], networks: ["front", "back"], ports: ["8080:80"] },
      web: on("front"),
      db: { args: ["/bin/true"], networks: { back: { aliases: ["postgres", "pg.internal"] } } },
    },
  });
  const alloc = allocateNetworks(config);
  assert.deepEqual(alloc.networks["front"]?.members, { proxy: "10.91.1.2", web: "10.91.1.3" });
  assert.deepEqual(alloc.networks["back"]?.members, { db: "10.91.0.2", proxy: "10.91.0.3" });
  const net = containerNetwork(config.containers["proxy"]!, alloc, config)!;
  assert.deepEqual(
    net.links.map((l) => [l.ifname, l.address, l.bridge]),
    [
      ["eth0", "10.91.1.2", "ry-front"],
      ["eth1", "10.91.0.3", "ry-back"],
    ],
  );
  assert.notEqual(net.links[0].hostIf, net.links[1]?.hostIf);
  const text = renderNetScript(net);
  snapshot(SNAPSHOTS, "proxy.sh", text);
  assert.equal(spawnSync("/bin/sh", ["-n"], { input: text }).status, 0);
  // Published ports reach the first network's address; the default route is the first's.
  assert.match(text, /published \{ 127\.0\.0\.1 \. tcp \. 8080 : 10\.91\.1\.2 \. 80 \}/);
  assert.match(text, /^route add default via 10\.91\.1\.1$/m);
  assert.equal(text.match(/^route add default/gm)?.length, 1);
  assert.match(text, /^addr add 10\.91\.0\.3\/24 dev eth1$/m);
  // The last member to leave either network takes that bridge with it.
  assert.match(text, /ip link delete ry-front/);
  assert.match(text, /ip link delete ry-back/);
});

test("hosts files: a container on two networks sees both, aliases only on their network", () => {
  const config = resolve({
    networks: { front: {}, back: {} },
    containers: {
      proxy: { args: ["/bin/true"], networks: ["front", "back"] },
      web: on("front"),
      db: { args: ["/bin/true"], networks: { back: { aliases: ["postgres"] } } },
    },
  });
  const alloc = allocateNetworks(config);
  const front = renderHostsFile(config, ["front"], alloc);
  const both = renderHostsFile(config, ["back", "front"], alloc);
  assert.doesNotMatch(front, /db|postgres/, "front's members do not learn back's names");
  assert.match(both, /^# written by railyard: the containers of networks back, front$/m);
  assert.match(both, /^10\.91\.0\.2\tdb postgres$/m);
  assert.match(both, /^10\.91\.1\.3\tweb$/m);
  assert.match(renderHostsFile(config, ["back"], alloc), /^10\.91\.0\.2\tdb postgres$/m);
});
