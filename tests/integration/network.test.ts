/**
 * Private and named networks under a real systemd with real runc, ip and nftables. The systemd
 * gets a network namespace of its own, so bridges, links and rules never touch the host's; an
 * "outside" namespace behind a veth link stands in for the internet. Traffic is real: busybox
 * httpd servers and curl clients, inside containers and from the (namespaced) host.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { debianImage } from "../helpers/debian-images.js";
import { ONEDRIVE_LIKE } from "../helpers/official-images.js";
import { join } from "node:path";
import { runtimeId } from "../helpers/ids.js";
import { DEFAULT_STATE_DIR } from "../../src/config/resolve/index.js";
import { bridgeName } from "../../src/network/script.js";
import { idScope } from "../../src/model/ids.js";
import { after, before, describe, test } from "node:test";
import { scratchDir } from "../helpers/cli.js";
import { bootSystemd, waitFor, type BootedSystemd } from "../helpers/systemd.js";

const { dir, cleanup } = scratchDir("railyard-network-");
let sd: BootedSystemd;
const OUTSIDE = "198.51.100.2";

before(async () => {
  sd = await bootSystemd(join(dir, "ns"), [dir], { isolateNetwork: true });
  // "The internet": a namespace behind a routed link, with a web server that reports who called.
  const www = join(dir, "outside-www");
  mkdirSync(join(www, "cgi-bin"), { recursive: true });
  writeFileSync(
    join(www, "cgi-bin", "who"),
    '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "$REMOTE_ADDR"\n',
    {
      mode: 0o755,
    },
  );
  const sh = (script: string) => {
    const r = sd.exec("/bin/sh", ["-ec", script]);
    assert.equal(r.code, 0, `${script}\n${r.stderr}`);
  };
  sh(`ip netns add outside
ip link add out0 type veth peer name eth0 netns outside
ip addr add 198.51.100.1/24 dev out0
ip link set out0 up
ip -n outside addr add ${OUTSIDE}/24 dev eth0
ip -n outside link set eth0 up
ip -n outside link set lo up
ip netns exec outside busybox httpd -p 80 -h ${www}`);
});
after(async () => {
  await sd?.stop();
  cleanup();
});

/** A web server container: busybox httpd serving `text` at /index.html, on port 80. */
function web(text: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const root = join(dir, "www", text);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, "index.html"), `${text}\n`);
  return {
    args: ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"],
    volumes: [`${root}:/www:ro`],
    include: ["/usr/bin/curl"],
    restart: "always",
    stopSignal: "SIGKILL",
    ...extra,
  };
}

let n = 0;
/** The state dir of the project the tests use (runtime ids carry its scope). */
let state = "";
function project(): { file: string; write: (config: Record<string, unknown>) => string[] } {
  const home = join(dir, `p${n++}`);
  state = join(home, "state");
  mkdirSync(home, { recursive: true });
  const file = join(home, "railyard.config.json");
  return {
    file,
    write(config) {
      writeFileSync(
        file,
        JSON.stringify({ stateDir: join(home, "state"), runtime: "runc", ...config }, null, 2),
      );
      return ["--config", file];
    },
  };
}

/** curl from inside a running container (runc exec); the body, or "" when it could not connect. */
function curlIn(container: string, url: string): string {
  const r = sd.exec("runc", [
    "exec",
    runtimeId(state, container),
    "/usr/bin/curl",
    "-sS",
    "-m",
    "3",
    url,
  ]);
  return r.code === 0 ? r.stdout.trim() : "";
}
/** curl from the host (the systemd's namespace). */
function curlHost(url: string): string {
  const r = sd.exec("curl", ["-sS", "-m", "3", url]);
  return r.code === 0 ? r.stdout.trim() : "";
}
const mainPid = (unit: string) => Number(sd.show(unit, "MainPID")["MainPID"]);
/** A container's network namespace, and a network's bridge: named with the project's scope. */
const netnsOf = (container: string) => runtimeId(state, container);
const bridgeOf = (network: string) => bridgeName(network, idScope(state, DEFAULT_STATE_DIR));

/** The container's address on one of its interfaces (eth0: its first network). */
function addressOf(container: string, dev = "eth0"): string {
  const r = sd.exec("ip", ["-n", netnsOf(container), "-4", "-o", "addr", "show", "dev", dev]);
  const m = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(r.stdout);
  assert.ok(m, `no address on ${container}'s ${dev}: ${r.stdout}${r.stderr}`);
  return m[1] as string;
}

/** What a failed wait shows: the unit, its journal, the rules and the links. */
function diagnose(unit: string): string {
  const out = (cmd: string, args: string[]) => {
    const r = sd.exec(cmd, args);
    return `$ ${cmd} ${args.join(" ")}\n${r.stdout}${r.stderr}`;
  };
  return [
    out("systemctl", ["status", "--no-pager", unit]),
    out("journalctl", ["--no-pager", "-n", "40", "-u", unit]),
    out("nft", ["list", "table", "ip", "railyard"]),
    out("ip", ["-br", "addr"]),
  ].join("\n");
}

describe("networks", () => {
  const p = project();
  const backend = {
    networks: { backend: {} },
    containers: {
      db: web("db", { network: "backend", extraHosts: { gw: "host-gateway" } }),
      app: web("app", { network: "backend", ports: ["8080:80"] }),
      pub: web("pub", { ports: ["0.0.0.0:9090:80"] }),
      loner: web("loner", { network: "private" }),
      // compose's dns, dns_search, dns_opt, group_add, pid: host and extra_hosts, as railyard keys.
      tuned: web("tuned", {
        network: "private",
        extraHosts: { "host.docker.internal": "host-gateway", nas: ["192.0.2.77", "2001:db8::77"] },
        dns: { servers: ["192.0.2.53"], search: ["home.arpa"], options: ["ndots:2"] },
        groupAdd: [44, "users"],
        pid: "host",
      }),
    },
  };

  test("switch starts containers on a named network and on private ones", async () => {
    const r = await sd.railyard([...p.write(backend), "switch"]);
    assert.equal(r.code, 0, r.stderr);
    for (const c of ["db", "app", "pub", "loner"])
      assert.equal(sd.show(`railyard-${c}.service`, "ActiveState")["ActiveState"], "active", c);
  });

  test("a published port answers on the host: 127.0.0.1 by default, every address when asked", async () => {
    await waitFor("app on 127.0.0.1:8080", () => curlHost("http://127.0.0.1:8080/") === "app");
    assert.equal(curlHost("http://127.0.0.1:9090/"), "pub");
    // 8080 has no address in the config, so it is published on loopback only.
    sd.exec("ip", ["addr", "add", "192.0.2.10/32", "dev", "lo"]);
    assert.equal(
      curlHost("http://192.0.2.10:8080/"),
      "",
      "8080 must not be published beyond 127.0.0.1",
    );
    assert.equal(curlHost("http://192.0.2.10:9090/"), "pub");
  });

  test("members of a named network reach each other by name, unpublished ports included", () => {
    assert.equal(curlIn("app", "http://db/"), "db");
    assert.equal(curlIn("db", "http://app/"), "app");
  });

  test("attack: no container reaches a port that another container did not publish", () => {
    const db = addressOf("db");
    const app = addressOf("app");
    const pub = addressOf("pub");
    // From a private container: nothing of the others, by address.
    assert.equal(curlIn("loner", `http://${db}/`), "", "loner reached db");
    assert.equal(curlIn("loner", `http://${app}/`), "", "loner reached app's unpublished port 80");
    assert.equal(curlIn("loner", `http://${pub}/`), "", "loner reached pub directly");
    // From another network: nothing either.
    assert.equal(curlIn("app", `http://${pub}/`), "", "app reached pub directly");
    assert.equal(curlIn("pub", `http://${db}/`), "", "pub reached db");
    // What is published on every address is reachable through the host, from any container.
    const gateway = sd
      .exec("ip", ["-n", netnsOf("loner"), "route", "show", "default"])
      .stdout.split(/\s+/)[2];
    assert.equal(curlIn("loner", `http://${gateway}:9090/`), "pub");
    // What is published on 127.0.0.1 is not (the container's loopback is its own).
    assert.equal(curlIn("loner", `http://${gateway}:8080/`), "");
    assert.equal(curlIn("loner", "http://127.0.0.1:8080/"), "");
  });

  test("containers reach the outside through the host (masqueraded), and the outside cannot reach them", () => {
    sd.exec("ip", ["-n", "outside", "route", "add", "10.0.0.0/8", "via", "198.51.100.1"]);
    // busybox httpd reports an IPv4 caller as "[::ffff:a.b.c.d]".
    const caller = (c: string) =>
      curlIn(c, `http://${OUTSIDE}/cgi-bin/who`).replace(/^\[::ffff:(.*)\]$/, "$1");
    assert.equal(caller("loner"), "198.51.100.1");
    assert.equal(caller("app"), "198.51.100.1");
    // Even with a route to them, unpublished ports stay closed to the outside.
    const r = sd.exec("ip", [
      "netns",
      "exec",
      "outside",
      "curl",
      "-sS",
      "-m",
      "3",
      `http://${addressOf("db")}/`,
    ]);
    assert.notEqual(r.code, 0, `the outside reached db: ${r.stdout}`);
  });

  test("resolv.conf of a private container names the host's nameservers, not loopback ones", () => {
    const r = sd.exec("runc", [
      "exec",
      runtimeId(state, "loner"),
      "/bin/busybox",
      "cat",
      "/etc/resolv.conf",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /nameserver\s+127\./);
  });

  test("dns, groupAdd and pid host reach the running container as runc gives them", () => {
    const inTuned = (...args: string[]) => {
      const r = sd.exec("runc", ["exec", runtimeId(state, "tuned"), "/bin/busybox", ...args]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    const resolv = inTuned("cat", "/etc/resolv.conf");
    assert.match(resolv, /^nameserver 192\.0\.2\.53$/m);
    assert.match(resolv, /^search home\.arpa$/m);
    assert.match(resolv, /^options ndots:2$/m);
    assert.doesNotMatch(resolv, /^nameserver (?!192\.0\.2\.53$)/m);
    // users is the host's group 100 (a host program's names are the host's).
    assert.deepEqual(inTuned("id", "-G").trim().split(" ").sort(), ["0", "100", "44"]);
    // The host's process namespace: its PID 1 is the (namespaced) host's systemd, not httpd.
    assert.equal(inTuned("cat", "/proc/1/comm").trim(), "systemd");
  });

  test("extraHosts: host-gateway reaches the host's services, and only the one that asks sees its names", () => {
    // pub publishes 9090 on every host address: the host's end of tuned's link is one.
    assert.equal(curlIn("tuned", "http://host.docker.internal:9090/"), "pub");
    const hosts = (c: string) =>
      sd.exec("runc", ["exec", runtimeId(state, c), "/bin/busybox", "cat", "/etc/hosts"]).stdout;
    assert.match(hosts("tuned"), /^192\.0\.2\.77\tnas\n2001:db8::77\tnas$/m);
    // On a named network, db's own file: the network's members, and then its extra names.
    assert.match(hosts("db"), /^10\.91\.\d+\.1\tgw$/m);
    assert.match(hosts("db"), /\tapp$/m);
    assert.equal(curlIn("db", "http://gw:9090/"), "pub");
    assert.doesNotMatch(hosts("app"), /\tgw$/m, "app shares the network's file, not db's");
  });

  test("adding a member restarts nobody, keeps every address, and the others see it by name", async () => {
    const before = { db: addressOf("db"), app: addressOf("app") };
    const pids = { db: mainPid("railyard-db.service"), app: mainPid("railyard-app.service") };
    const next = {
      ...backend,
      containers: { ...backend.containers, cache: web("cache", { network: "backend" }) },
    };
    const r = await sd.railyard([...p.write(next), "switch"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual({ db: addressOf("db"), app: addressOf("app") }, before);
    assert.deepEqual(
      { db: mainPid("railyard-db.service"), app: mainPid("railyard-app.service") },
      pids,
    );
    assert.equal(curlIn("app", "http://cache/"), "cache");
  });

  test("a crashed container comes back with its network and published port", async () => {
    const pid = mainPid("railyard-app.service");
    assert.equal(sd.exec("kill", ["-KILL", String(pid)]).code, 0);
    await waitFor(
      "app restarted",
      () => mainPid("railyard-app.service") !== pid && mainPid("railyard-app.service") > 0,
    );
    await waitFor(
      "app on 127.0.0.1:8080 again",
      () => curlHost("http://127.0.0.1:8080/") === "app",
      15_000,
      () => diagnose("railyard-app.service"),
    );
    assert.equal(curlIn("app", "http://db/"), "db");
  });

  test("railyard run (no unit) sets up the same network, and removes it when the program exits", async () => {
    // In the same config (one state directory per host): its address is one the running
    // generation left free.
    const r = await sd.railyard([
      ...p.write({
        ...backend,
        containers: {
          ...backend.containers,
          client: {
            args: ["/usr/bin/curl", "-sS", "-m", "3", `http://${OUTSIDE}/cgi-bin/who`],
            network: "private",
            autoStart: false,
          },
        },
      }),
      "run",
      "client",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().replace(/^\[::ffff:(.*)\]$/, "$1"), "198.51.100.1");
    assert.doesNotMatch(sd.exec("ip", ["netns", "list"]).stdout, /railyard-client\b/);
  });

  test("railyard run on a named network no service uses leaves no bridge and no nft element behind", async () => {
    const r = await sd.railyard([
      ...p.write({
        ...backend,
        networks: { ...backend.networks, solo: {} },
        containers: {
          ...backend.containers,
          once: {
            args: [
              "/bin/busybox",
              "sh",
              "-c",
              "/bin/busybox ip -4 -o addr show dev eth0 | /bin/busybox grep -q inet && echo up",
            ],
            network: "solo",
            autoStart: false,
          },
        },
      }),
      "run",
      "once",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "up\n");
    assert.notEqual(
      sd.exec("ip", ["link", "show", "dev", bridgeOf("solo")]).code,
      0,
      "no bridge left",
    );
    assert.ok(
      !sd.exec("nft", ["list", "table", "ip", "railyard"]).stdout.includes(bridgeOf("solo")),
    );
    // The backend network, whose members run, keeps its bridge.
    assert.equal(sd.exec("ip", ["link", "show", "dev", bridgeOf("backend")]).code, 0);
  });

  test("stopping a container removes its port, its link and its namespace", async () => {
    const r = sd.exec("systemctl", ["stop", "railyard-app.service"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(curlHost("http://127.0.0.1:8080/"), "");
    const nft = sd.exec("nft", ["list", "table", "ip", "railyard"]).stdout;
    assert.doesNotMatch(nft, /8080/);
    assert.ok(!sd.exec("ip", ["netns", "list"]).stdout.includes(netnsOf("app")));
    assert.equal(sd.exec("systemctl", ["start", "railyard-app.service"]).code, 0);
    await waitFor(
      "app back on 8080",
      () => curlHost("http://127.0.0.1:8080/") === "app",
      15_000,
      () => diagnose("railyard-app.service"),
    );
  });
});

describe('network "container:NAME"', () => {
  // The VPN-sidecar pattern: client joins vpn's network namespace. (Its project is made when its
  // first test runs: curlIn reads the runtime ids of the newest project.)
  const stack = {
    containers: {
      vpn: web("vpn", { ports: ["127.0.0.1:7070:80"] }),
      client: {
        args: ["/bin/busybox", "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"],
        network: "container:vpn",
        include: ["/usr/bin/curl"],
      },
    },
  };
  const netns = (unit: string) =>
    sd.exec("readlink", [`/proc/${mainPid(unit)}/ns/net`]).stdout.trim();

  test("client shares vpn's namespace: its localhost, its way out, no interface of its own; vpn's port is published", async () => {
    // The "networks" project above still runs: its private addresses, namespaces and links
    // are its own, and this project's step around them.
    const r = await sd.railyard([...project().write(stack), "switch"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await waitFor(
      "vpn's server from client, on localhost",
      () => curlIn("client", "http://127.0.0.1/") === "vpn",
      15_000,
      () => diagnose("railyard-client.service"),
    );
    assert.equal(netns("railyard-client.service"), netns("railyard-vpn.service"));
    assert.equal(
      curlIn("client", `http://${OUTSIDE}/cgi-bin/who`),
      curlIn("vpn", `http://${OUTSIDE}/cgi-bin/who`),
      "the outside sees client's traffic come from where vpn's comes from",
    );
    assert.equal(curlHost("http://127.0.0.1:7070/"), "vpn");
    assert.equal(curlHost("http://127.0.0.1:8080/"), "app", "the other project runs beside it");
  });

  test("restarting vpn restarts client, in the new namespace", async () => {
    const before = mainPid("railyard-client.service");
    assert.equal(sd.exec("systemctl", ["restart", "railyard-vpn.service"]).code, 0);
    await waitFor(
      "client restarted with vpn",
      () =>
        sd.show("railyard-client.service", "ActiveState")["ActiveState"] === "active" &&
        mainPid("railyard-client.service") !== before,
      15_000,
      () => diagnose("railyard-client.service"),
    );
    assert.equal(netns("railyard-client.service"), netns("railyard-vpn.service"));
    await waitFor(
      "vpn's server from client again",
      () => curlIn("client", "http://127.0.0.1/") === "vpn",
    );
    sd.exec("systemctl", ["stop", "railyard-client.service", "railyard-vpn.service"]);
  });
});

describe("several networks, aliases and port ranges", () => {
  // gw is on front and back, as a reverse proxy between a web tier and a database tier is.
  const root = join(dir, "www", "gw");
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, "index.html"), "gw\n");
  const stack = {
    networks: { front: {}, back: {} },
    containers: {
      gw: {
        // Three servers (busybox httpd without -f goes to the background), one per port.
        args: [
          "/bin/busybox",
          "sh",
          "-c",
          "httpd -p 81 -h /www && httpd -p 82 -h /www && exec httpd -f -p 80 -h /www",
        ],
        volumes: [`${root}:/www:ro`],
        include: ["/usr/bin/curl"],
        stopSignal: "SIGKILL",
        networks: { front: {}, back: { aliases: ["api"] } },
        ports: ["8100-8102:80-82"],
      },
      shop: web("shop", { networks: { front: { aliases: ["store"] } } }),
      ledger: web("ledger", { networks: { back: { aliases: ["books", "books.lan"] } } }),
    },
  };

  test("a container on two networks has an interface on each, and its ports range is published", async () => {
    const r = await sd.railyard([...project().write(stack), "switch"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(addressOf("gw", "eth0"), /^10\.91\./);
    assert.match(addressOf("gw", "eth1"), /^10\.91\./);
    assert.notEqual(addressOf("gw", "eth0"), addressOf("gw", "eth1"));
    for (const port of [8100, 8101, 8102])
      await waitFor(
        `gw on 127.0.0.1:${port}`,
        () => curlHost(`http://127.0.0.1:${port}/`) === "gw",
        15_000,
        () => diagnose("railyard-gw.service"),
      );
  });

  test("it reaches the members of both by name and by alias, and they reach it", async () => {
    await waitFor("shop up", () => curlIn("gw", "http://shop/") === "shop");
    assert.equal(curlIn("gw", "http://store/"), "shop");
    await waitFor("ledger up", () => curlIn("gw", "http://ledger/") === "ledger");
    assert.equal(curlIn("gw", "http://books/"), "ledger");
    assert.equal(curlIn("gw", "http://books.lan/"), "ledger");
    assert.equal(curlIn("shop", "http://gw/"), "gw");
    assert.equal(curlIn("ledger", "http://api/"), "gw", "an alias on back, seen from back");
  });

  test("attack: members of one network reach nothing of the other, by name or address", () => {
    assert.equal(curlIn("shop", "http://ledger/"), "", "front does not learn back's names");
    assert.equal(curlIn("shop", "http://books/"), "");
    assert.equal(curlIn("ledger", "http://store/"), "", "nor back front's aliases");
    assert.equal(curlIn("ledger", "http://api/"), "gw");
    // The addresses answer where a route is meant to exist: gw is on both.
    assert.equal(curlIn("gw", `http://${addressOf("ledger", "eth0")}/`), "ledger");
    assert.equal(curlIn("gw", `http://${addressOf("shop", "eth0")}/`), "shop");
    assert.equal(
      curlIn("shop", `http://${addressOf("ledger", "eth0")}/`),
      "",
      "nor their addresses",
    );
    assert.equal(curlIn("ledger", `http://${addressOf("shop", "eth0")}/`), "");
    // Not through gw either: its address on back is not a way in from front.
    assert.equal(curlIn("shop", `http://${addressOf("gw", "eth1")}/`), "");
  });

  test("stopping them removes both bridges", () => {
    assert.equal(
      sd.exec("systemctl", [
        "stop",
        "railyard-gw.service",
        "railyard-shop.service",
        "railyard-ledger.service",
      ]).code,
      0,
    );
    for (const b of ["front", "back"].map(bridgeOf))
      assert.notEqual(sd.exec("ip", ["link", "show", b]).code, 0, `${b} is still there`);
    assert.equal(curlHost("http://127.0.0.1:8101/"), "");
  });
});

describe("IPv6: dual-stack networks and ports on [::1]", () => {
  const stack = {
    networks: { dual: { ipv6: true } },
    containers: {
      // Published without an address: loopback in both families.
      v6web: web("v6web", { network: "dual", ports: ["8200:80"] }),
      v6peer: web("v6peer", { network: "dual", ports: ["[::]:8201:80", "[::1]:8202:80"] }),
      // On network "private" (IPv4 only), [::1] still works: the proxy reaches it over IPv4.
      v4only: web("v4only", { ports: ["127.0.0.1:8203:80", "[::1]:8203:80"] }),
    },
  };
  let flags: string[] = [];
  const address6 = (container: string) => {
    const r = sd.exec("ip", [
      "-n",
      netnsOf(container),
      "-6",
      "-o",
      "addr",
      "show",
      "dev",
      "eth0",
      "scope",
      "global",
    ]);
    return /inet6 ([0-9a-f:]+)\//.exec(r.stdout)?.[1] ?? "";
  };

  test("a port published without an address answers on 127.0.0.1 and on [::1]", async () => {
    flags = project().write(stack);
    const r = await sd.railyard([...flags, "switch"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await waitFor(
      "v6web on 127.0.0.1:8200",
      () => curlHost("http://127.0.0.1:8200/") === "v6web",
      15_000,
      () => diagnose("railyard-v6web.service"),
    );
    await waitFor(
      "v6web on [::1]:8200",
      () => curlHost("http://[::1]:8200/") === "v6web",
      15_000,
      () => diagnose("railyard-v6web-port8200.socket"),
    );
    assert.equal(curlHost("http://[::1]:8202/"), "v6peer");
    assert.equal(curlHost("http://[::1]:8203/"), "v4only");
    assert.equal(curlHost("http://127.0.0.1:8203/"), "v4only");
  });

  test("members of a dual-stack network reach each other over IPv6, by address and by name", async () => {
    const peer = address6("v6peer");
    assert.match(peer, /^fd[0-9a-f]{2}:/, "a unique local address");
    // inspect names both of its addresses.
    const info = await sd.railyard([...flags, "inspect", "v6peer", "--json"]);
    assert.equal(info.code, 0, info.stderr);
    const nets = (JSON.parse(info.stdout) as { network: { interfaces: { address6?: string }[] } })
      .network.interfaces;
    assert.equal(nets[0]?.address6, `${peer}/64`);
    assert.equal(curlIn("v6web", `http://[${peer}]/`), "v6peer");
    assert.equal(
      sd
        .exec("runc", [
          "exec",
          runtimeId(state, "v6web"),
          "/usr/bin/curl",
          "-6",
          "-sS",
          "-m",
          "3",
          "http://v6peer/",
        ])
        .stdout.trim(),
      "v6peer",
      "the name has an IPv6 address too",
    );
  });

  test("[::] publishes on the host's IPv6 addresses, by the kernel", () => {
    sd.exec("ip", ["-6", "addr", "add", "2001:db8::10/128", "dev", "lo", "nodad"]);
    assert.equal(curlHost("http://[2001:db8::10]:8201/"), "v6peer");
    // 8200 was published on loopback only.
    assert.equal(curlHost("http://[2001:db8::10]:8200/"), "");
  });

  test("stopping the container closes its [::1] port", () => {
    assert.equal(sd.exec("systemctl", ["stop", "railyard-v6web.service"]).code, 0);
    assert.equal(curlHost("http://[::1]:8200/"), "");
    assert.notEqual(
      sd.show("railyard-v6web-port8200.socket", "ActiveState")["ActiveState"],
      "active",
    );
    sd.exec("systemctl", ["stop", "railyard-v6peer.service", "railyard-v4only.service"]);
  });
});

describe("an image's default network", () => {
  // The README's OneDrive service as written: an image, a user, two volumes, restart, and no
  // network key. docker and podman give such a container a way out; so does railyard.
  let p: ReturnType<typeof project>;
  let layout = "";
  before(() => {
    p = project(); // here, not at load: the describes above use the state of their own
    layout = debianImage("onedrive-like", ONEDRIVE_LIKE); // mmdebstrap once per machine, then cached
  });
  const data = join(dir, "onedrive", "data");
  const onedrive = (extra: Record<string, unknown> = {}) => {
    mkdirSync(join(dir, "onedrive", "conf"), { recursive: true });
    mkdirSync(data, { recursive: true });
    chmodSync(data, 0o777);
    return {
      image: "localhost/onedrive-like:v1",
      imageFile: `oci:${layout}:v1`,
      user: "2000:100",
      volumes: [`${join(dir, "onedrive", "conf")}:/onedrive/conf`, `${data}:/onedrive/data`],
      environment: { ONEDRIVE_API: `http://${OUTSIDE}` },
      restart: "always",
      ...extra,
    };
  };

  test("an image with no network key reaches the outside (private: masqueraded, nothing in)", async () => {
    const cfg = p.write({ containers: { onedrive: onedrive() } });
    const check = await sd.railyard([...cfg, "--json", "check"]);
    const resolved = JSON.parse(check.stdout) as {
      containers: Record<string, { network: string }>;
    };
    assert.equal(resolved.containers["onedrive"]?.network, "private");
    const r = await sd.railyard([...cfg, "switch"]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(
      "the client's first sync",
      () => sd.exec("cat", [join(data, "synced")]).code === 0,
      20_000,
      () => diagnose("railyard-onedrive.service"),
    );
    const synced = sd.exec("cat", [join(data, "synced")]).stdout.trim();
    assert.equal(synced.replace(/^\[::ffff:(.*)\]$/, "$1"), "198.51.100.1");
    assert.equal(sd.show("railyard-onedrive.service", "ActiveState")["ActiveState"], "active");
    assert.equal((await sd.railyard([...cfg, "down"])).code, 0);
  });

  test('network "none" is one key away, and the death it causes names the key', async () => {
    const cfg = p.write({ containers: { onedrive: onedrive({ network: "none" }) } });
    const r = await sd.railyard([...cfg, "run", "onedrive"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /onedrive: cannot reach http:\/\/198\.51\.100\.2/);
    assert.match(
      r.stderr,
      /hint: .*network "none": loopback only, no route out\. set network: "private"/,
    );
  });
});

describe("attack: a container with NET_RAW and the host's loopback", () => {
  // route_localnet on the host ends of container links lets 127.0.0.0/8 in through them: a
  // frame sent to the gateway's MAC, addressed to 127.0.0.1, reached a host listener there
  // (CVE-2020-8558). Sent here by hand, as an attacker would, with a raw socket.
  const PROBE = String.raw`
import socket, struct, sys, time
port = int(sys.argv[1])
gw = next(socket.inet_ntoa(struct.pack("<L", int(f[2], 16)))
          for f in (l.split() for l in open("/proc/net/route").read().splitlines()[1:])
          if f[1] == "00000000")
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.connect((gw, 9))
me = u.getsockname()[0]
u.send(b"arp")  # the gateway's MAC comes into the ARP table
time.sleep(0.5)
mac = next(bytes.fromhex(f[3].replace(":", ""))
           for f in (l.split() for l in open("/proc/net/arp").read().splitlines()[1:])
           if f[0] == gw)
own = bytes.fromhex(open("/sys/class/net/eth0/address").read().strip().replace(":", ""))
data = b"from-the-container"
udp = struct.pack("!HHHH", 40000, port, 8 + len(data), 0) + data
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                 socket.inet_aton(me), socket.inet_aton("127.0.0.1"))
s = sum(struct.unpack("!10H", ip))
s = (s & 0xFFFF) + (s >> 16)
ip = ip[:10] + struct.pack("!H", ~((s & 0xFFFF) + (s >> 16)) & 0xFFFF) + ip[12:]
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
raw.bind(("eth0", 0))
for _ in range(3):
    raw.send(mac + own + b"\x08\x00" + ip + udp)
    time.sleep(0.2)
print("sent from", me, "via", gw)
`;
  /** A UDP listener on the host's 127.0.0.1:port; what it received within 4 s, or "". */
  function listen(port: number): () => Promise<string> {
    const out = `/tmp/loopback-${port}`;
    const py = `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(("127.0.0.1",${port}))\ns.settimeout(4)\ntry:\n  d,a=s.recvfrom(100)\n  open("${out}","w").write(d.decode())\nexcept Exception:\n  open("${out}","w").write("")\n`;
    sd.exec("/bin/sh", ["-c", `rm -f ${out}; python3 -c '${py}' </dev/null >/dev/null 2>&1 &`]);
    return async () => {
      await waitFor(
        "the listener's verdict",
        () => sd.exec("test", ["-e", out]).code === 0,
        10_000,
      );
      return sd.exec("cat", [out]).stdout;
    };
  }
  let flags: string[] = [];
  const probe = async (port: number) => {
    const heard = listen(port);
    await new Promise((r) => setTimeout(r, 300));
    const r = await sd.railyard([...flags, "run", "raw", "--", String(port)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sent from 10\.\d+\.\d+\.\d+ via 10\./);
    return heard();
  };

  test("a frame to 127.0.0.1 from a container is dropped at the host", async () => {
    flags = project().write({
      containers: {
        raw: {
          args: ["/usr/bin/python3", "-c", PROBE],
          closure: "packages",
          network: "private",
          capabilities: { NET_RAW: true },
        },
      },
    });
    assert.equal(await probe(47001), "", "the host's loopback heard nothing");
  });

  test("the probe is real: with the guard removed, the same frame gets through", async () => {
    // As a host that an older railyard set up: no input chain. The next start puts it back.
    sd.exec("nft", ["delete", "chain", "ip", "railyard", "input"]);
    const r = await sd.railyard([...flags, "run", "raw", "--", "47002"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sd.exec("nft", ["list", "chain", "ip", "railyard", "input"]).code, 0);
    assert.equal(await probe(47003), "", "a start loads the guard into an older table");
    sd.exec("nft", ["flush", "chain", "ip", "railyard", "input"]);
    const heard = listen(47004);
    await new Promise((res) => setTimeout(res, 300));
    // The table is there with its marker chain: this start leaves it as it is, guard flushed.
    const again = await sd.railyard([...flags, "run", "raw", "--", "47004"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await heard(), "from-the-container");
    sd.exec("nft", ["delete", "chain", "ip", "railyard", "input"]);
  });
});
