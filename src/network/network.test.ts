import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { resolveConfig } from "../config/resolve/index.js";
import type { UserConfig } from "../model/types.js";
import { NetworkError } from "../errors.js";
import { fakeContext } from "../../tests/helpers/context.js";
import { REPO_ROOT } from "../../tests/helpers/paths.js";
import { snapshot } from "../../tests/helpers/snapshot.js";
import { formatIPv6, overlaps, parseIPv6, parseProcRoute, parseSubnet } from "../model/address.js";
import { allocateNetworks, ipv6Of, type NetworkAllocation } from "./allocate.js";
import { loopback6Ports } from "../model/network.js";
import {
  containerNetwork,
  macFor,
  ownInterfaces,
  privateResolvConf,
  renderNetScript,
} from "./script.js";
import { extraHostLines, hostGateway, renderHostsFile } from "./hosts.js";

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
  assert.match(solo, /^addr add 10\.90\.0\.0\/31 dev ryv-/m);
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

test("extraHosts: host-gateway is the host as each network reaches it, other addresses as given", () => {
  const config = resolve({
    networks: { back: { subnet: "10.91.7.0/24" } },
    containers: {
      onHost: on("host", { extraHosts: { gw: "host-gateway" } }),
      alone: on("private", { extraHosts: { gw: "host-gateway", nas: ["192.168.1.5", "fd00::5"] } }),
      member: on("back", { extraHosts: { gw: "host-gateway" } }),
      sidecar: on("container:member", { extraHosts: { "host.docker.internal": "host-gateway" } }),
    },
  });
  const alloc = allocateNetworks(config);
  const c = (n: string) => config.containers[n] as (typeof config.containers)[string];
  assert.equal(hostGateway(config, c("onHost"), alloc), "127.0.0.1");
  assert.equal(hostGateway(config, c("member"), alloc), "10.91.7.1", "the bridge");
  assert.equal(hostGateway(config, c("sidecar"), alloc), "10.91.7.1", "the joined one's");
  const alone = alloc.private["alone"] as string;
  const hostEnd = `10.90.${alone.split(".")[2]}.${Number(alone.split(".")[3]) - 1}`;
  assert.deepEqual(extraHostLines(config, c("alone"), alloc), [
    `${hostEnd}\tgw`,
    "192.168.1.5\tnas",
    "fd00::5\tnas",
  ]);
  assert.deepEqual(extraHostLines(config, c("sidecar"), alloc), [
    "10.91.7.1\thost.docker.internal",
  ]);
});

test("extraHosts: a bad name or address, and host-gateway with no host, are refused by key", () => {
  assert.throws(
    () =>
      resolve({
        containers: {
          a: on("private", { extraHosts: { "bad name": "10.0.0.1", ok: ["10.0.0.1", "lots"] } }),
          b: on("none", { extraHosts: { gw: "host-gateway" } }),
        },
      }),
    (e: Error) =>
      /containers\.a\.extraHosts\["bad name"\]: is not a host name/.test(e.message) &&
      /containers\.a\.extraHosts\.ok\[1\]: "lots" is not an IP address or "host-gateway"/.test(
        e.message,
      ) &&
      /containers\.b\.extraHosts\.gw: is "host-gateway", but on network "none"/.test(e.message),
  );
});

test("IPv6 addresses: parsed in every text form, written as RFC 5952 says", () => {
  for (const [text, canonical] of [
    ["2001:db8:0:0:0:0:2:1", "2001:db8::2:1"],
    ["2001:DB8::1", "2001:db8::1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // one zero group stays
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // the longer run
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // the first of two equal runs
    ["::", "::"],
    ["::1", "::1"],
    ["::ffff:192.0.2.1", "::ffff:c000:201"],
    ["fd00::", "fd00::"],
  ])
    assert.equal(formatIPv6(parseIPv6(text as string) as bigint), canonical, text);
  for (const bad of ["1::2::3", "12345::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "g::", ":1"])
    assert.equal(parseIPv6(bad), undefined, bad);
});

test("dual stack: a stable unique local /64 per state dir and name; addresses follow IPv4's", () => {
  const make = (stateDir: string, ipv6: boolean | string = true) =>
    resolveConfig(
      {
        stateDir,
        networks: { dual: { ipv6 }, plain: {} },
        containers: { a: on("dual"), b: on("dual"), c: on("plain") },
      },
      fakeContext(),
    );
  const one = allocateNetworks(make("/var/lib/railyard"));
  const again = allocateNetworks(make("/var/lib/railyard"));
  const other = allocateNetworks(make("/srv/project/state"));
  const s6 = one.networks["dual"]?.subnet6 ?? "";
  assert.match(s6, /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/);
  assert.equal(again.networks["dual"]?.subnet6, s6, "the same on every build");
  assert.notEqual(other.networks["dual"]?.subnet6, s6, "another project's is another");
  assert.equal(one.networks["plain"]?.subnet6, undefined);
  const net = one.networks["dual"]!;
  assert.equal(ipv6Of(net, net.members["a"]!), s6.replace("::/64", "::2"));
  // A given subnet is used as it is.
  const given = allocateNetworks(make("/x", "fd00:91:7::/64"));
  assert.equal(given.networks["dual"]?.subnet6, "fd00:91:7::/64");
  assert.equal(ipv6Of(given.networks["dual"]!, "10.91.0.3"), "fd00:91:7::3");
});

test("a dual-stack member's script: IPv6 on its link and the bridge, the ip6 table, [::] published", () => {
  const config = resolve({
    networks: { dual: { ipv6: "fd00:91:7::/64" } },
    containers: { web: on("dual", { ports: ["[::]:8443:443", "8080:80", "[::1]:9090:90"] }) },
  });
  const alloc = allocateNetworks(config);
  const text = renderNetScript(containerNetwork(config.containers["web"]!, alloc, config)!);
  snapshot(SNAPSHOTS, "dual.sh", text);
  assert.equal(spawnSync("/bin/sh", ["-n"], { input: text }).status, 0);
  assert.match(text, /^addr add fd00:91:7::2\/64 dev eth0 nodad$/m);
  assert.match(text, /^route add default via fd00:91:7::1$/m);
  assert.match(text, /^addr add fd00:91:7::1\/64 dev ry-dual nodad$/m);
  assert.match(
    text,
    /create element ip6 railyard publishedany \{ tcp \. 8443 : fd00:91:7::2 \. 443 \}/,
  );
  assert.match(text, /delete element ip6 railyard publishedany \{ tcp \. 8443 \}/);
  // [::1] is the proxy's, never the kernel's.
  assert.doesNotMatch(text, /9090/);
  assert.match(text, /accept_ra.*echo 2/, "forwarding keeps the host's router advertisements");
  const hosts = renderHostsFile(config, ["dual"], alloc);
  assert.match(hosts, /^10\.91\.0\.2\tweb$/m);
  assert.match(hosts, /^fd00:91:7::2\tweb$/m);
  // The ports systemd proxies on [::1]: the one published there, and 8080 (loopback, both families).
  assert.deepEqual(
    loopback6Ports(config.containers["web"]!, config).map((p) => p.containerPort),
    [80, 90],
  );
});

test("two projects: host-wide names carry the state dir's scope; addresses step around the other's", () => {
  const make = (idScope?: string) => ({
    ...resolve({
      networks: { backend: {} },
      containers: { app: on("backend", { ports: ["8080:80"] }), solo: on("private") },
    }),
    ...(idScope ? { idScope } : {}),
  });
  const plain = make();
  const scoped = make("1a2b3c4d");
  const a = allocateNetworks(plain);
  const netA = containerNetwork(plain.containers["app"]!, a, plain)!;
  const netB = containerNetwork(scoped.containers["app"]!, allocateNetworks(scoped), scoped)!;
  assert.equal(netA.netns, "railyard-app");
  assert.equal(netB.netns, "railyard-app-1a2b3c4d");
  assert.equal(netA.links[0].bridge, "ry-backend");
  assert.match(netB.links[0].bridge ?? "", /^ryb-[0-9a-f]{11}$/);
  assert.notEqual(netA.links[0].hostIf, netB.links[0].hostIf);
  assert.match(renderNetScript(netB), /\/run\/railyard\/net\/app-1a2b3c4d\.undo/);
  // The host routes the first project's subnets: the second steps around them.
  const taken = [parseSubnet("10.91.0.0/24"), parseSubnet("10.90.0.0/31", 8, 32)].map((s) => {
    assert.ok(s.ok);
    return s.value;
  });
  const b = allocateNetworks(plain, undefined, taken);
  assert.notEqual(b.networks["backend"]?.subnet, "10.91.0.0/24");
  assert.notEqual(b.private["solo"], "10.90.0.1");
  // And keeps nothing of a previous allocation that the host now routes elsewhere.
  assert.notEqual(allocateNetworks(plain, a, taken).networks["backend"]?.subnet, "10.91.0.0/24");
  assert.deepEqual(
    ownInterfaces(plain),
    new Set([
      "ry-backend",
      netA.links[0].hostIf,
      containerNetwork(plain.containers["solo"]!, a, plain)!.links[0].hostIf,
    ]),
  );
});
