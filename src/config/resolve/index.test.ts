import assert from "node:assert/strict";
import type { ResolveContext } from "./context.js";
import { test } from "node:test";
import { ConfigError } from "../../errors.js";
import { resolveConfig } from "./index.js";

const ctx: ResolveContext = {
  file: "railyard.config.ts",
  hostArch: "amd64",
  lookupUser: (n) => (n === "nobody" ? { uid: 65534, gid: 65534 } : undefined),
  lookupGroup: (n) => (n === "users" ? 100 : undefined),
  userName: (u) => (u === 65534 ? "nobody" : undefined),
  groupName: (g) => (g === 100 ? "users" : undefined),
};

function problems(input: unknown): string[] {
  try {
    resolveConfig(input, ctx);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.exitCode, 2);
    return e.message.split("\n");
  }
  assert.fail("expected a ConfigError");
}

test("defaults: read-only root, runc-spec network isolation, restart always, root user", () => {
  const c = resolveConfig({ containers: { hello: { args: ["/bin/busybox", "echo", "hi"] } } }, ctx);
  const hello = c.containers["hello"];
  assert.ok(hello);
  assert.equal(c.stateDir, "/var/lib/railyard");
  assert.equal(c.runtime, "auto");
  assert.equal(hello.readonly, true);
  assert.equal(hello.network, "none");
  assert.equal(hello.restart, "always");
  assert.equal(hello.stopSignal, "SIGTERM");
  assert.equal(hello.stopTimeout, 10);
  assert.equal(hello.autoStart, true);
  assert.equal(hello.closure, "elf");
  assert.deepEqual(hello.user, { uid: 0, gid: 0, name: "root", group: "root" });
  assert.equal(hello.hostname, "hello");
  assert.ok(Object.isFrozen(c));
});

test("volumes, mounts and tmpfs resolve to sorted mounts; user names resolve on the host", () => {
  const c = resolveConfig(
    {
      containers: {
        onedrive: {
          args: ["/bin/true"],
          user: "nobody:users",
          volumes: ["/srv/od/data:/onedrive/data", "/srv/od/conf:/onedrive/conf:ro"],
          mounts: { "/cache": { source: "/srv/cache" } },
          tmpfs: ["/tmp:size=16m"],
          resources: { memory: "256m", cpus: 0.5, pids: 100 },
          capabilities: { chown: true, kill: false },
        },
      },
    },
    ctx,
  ).containers["onedrive"];
  assert.ok(c);
  assert.deepEqual(c.user, { uid: 65534, gid: 100, name: "nobody", group: "users" });
  assert.deepEqual(
    c.mounts.map((m) => [m.destination, m.type, m.options.join(",")]),
    [
      ["/cache", "bind", "rbind,rw"],
      ["/onedrive/conf", "bind", "rbind,ro"],
      ["/onedrive/data", "bind", "rbind,rw"],
      ["/tmp", "tmpfs", "nosuid,nodev,noexec,size=16m"],
    ],
  );
  assert.deepEqual(c.resources, { memory: 256 * 1024 * 1024, cpus: 0.5, pids: 100 });
  assert.deepEqual(c.capabilities, { CAP_CHOWN: true, CAP_KILL: false });
});

test("each acceptance error has its own clear message with the file and key path", () => {
  const [unknown] = problems({ containers: { hello: { args: ["/bin/true"], volumnes: [] } } });
  assert.equal(
    unknown,
    'railyard.config.ts: containers.hello.volumnes: unknown key (did you mean "volumes"?)',
  );

  const [relative] = problems({
    containers: { hello: { args: ["/bin/true"], mounts: { "/data": { source: "data" } } } },
  });
  assert.equal(
    relative,
    "railyard.config.ts: containers.hello.mounts./data.source: must be an absolute path",
  );

  const [dup] = problems({
    containers: { hello: { args: ["/bin/true"], volumes: ["/a:/data", "/b:/data:ro"] } },
  });
  assert.match(
    dup ?? "",
    /^railyard\.config\.ts: containers\.hello\.volumes\[1\]: destination \/data is already mounted by volumes\[0\]/,
  );

  const [badUser] = problems({ containers: { hello: { args: ["/bin/true"], user: "abc:1" } } });
  assert.match(
    badUser ?? "",
    /^railyard\.config\.ts: containers\.hello\.user: "abc:1": user "abc" does not exist on this host\. expected "uid:gid", "uid"/,
  );

  const [badSyntaxUser] = problems({
    containers: { hello: { args: ["/bin/true"], user: "1:2:3" } },
  });
  assert.match(
    badSyntaxUser ?? "",
    /containers\.hello\.user: "1:2:3" is not a valid user\. expected "uid:gid"/,
  );

  const [badName] = problems({ containers: { "my app": { args: ["/bin/true"] } } });
  assert.match(
    badName ?? "",
    /^railyard\.config\.ts: containers\["my app"\]: "my app" is not a valid container name/,
  );

  const [badRef] = problems({ containers: { hello: { image: "Docker.io/Library/BusyBox" } } });
  assert.match(
    badRef ?? "",
    /containers\.hello\.image: "Docker\.io\/Library\/BusyBox" is not a valid image reference/,
  );

  const [mixed] = problems({ containers: { hello: { image: "busybox", args: ["/bin/true"] } } });
  assert.match(
    mixed ?? "",
    /containers\.hello\.args: cannot be combined with image, imageFile or build/,
  );

  const [noArgs] = problems({ containers: { hello: {} } });
  assert.match(noArgs ?? "", /containers\.hello\.args: is required/);
});

test("image containers: the reference is normalised; user names, workdir and stop signal wait for the image", () => {
  const c = resolveConfig(
    {
      registries: { "127.0.0.1:5000": { insecure: true } },
      containers: {
        od: {
          image: "croc/onedrive",
          user: "onedrive:users",
          entrypoint: "/entry.sh",
          cmd: ["--monitor"],
        },
        n: { image: "127.0.0.1:5000/x/y:v1", user: "2000:100", pull: "never" },
      },
    },
    ctx,
  );
  const od = c.containers["od"];
  assert.deepEqual(od?.image, {
    ref: "docker.io/croc/onedrive:latest",
    entrypoint: ["/entry.sh"],
    cmd: ["--monitor"],
    pull: "missing",
  });
  assert.equal(od?.userSpec, "onedrive:users");
  assert.equal(od?.user, undefined);
  assert.equal(od?.workdir, undefined);
  assert.equal(od?.stopSignal, undefined);
  assert.deepEqual(c.containers["n"]?.user, { uid: 2000, gid: 100, name: "u2000", group: "users" });
  assert.deepEqual(c.registries, { "127.0.0.1:5000": { insecure: true } });
});

test("every problem in every container is reported at once", () => {
  const all = problems({
    runtime: "kata",
    extra: 1,
    containers: {
      a: { args: ["/bin/true"], user: "nobody:nogroup", workdir: "rel", stopSignal: "SIGFOO" },
      b: { args: "not-a-list", dependsOn: ["zzz"] },
      c: { args: ["/bin/true"], dependsOn: ["zzz"], ports: ["99999:80", "localhost:80"] },
    },
  });
  const text = all.join("\n");
  for (const needle of [
    /^railyard\.config\.ts: runtime: the string "kata" is not allowed\. expected one of "auto", "runc", "crun"$/m,
    /^railyard\.config\.ts: extra: unknown key$/m,
    /containers\.a\.user: .*group "nogroup" does not exist/,
    /containers\.a\.workdir: "rel" must be an absolute path/,
    /containers\.a\.stopSignal: "SIGFOO" is not a signal/,
    /containers\.b\.args: must be an array, got the string "not-a-list"/,
    /containers\.c\.dependsOn\[0\]: "zzz" is not a container in this config/,
    /containers\.c\.ports\[0\]: "99999:80": ports are 1 to 65535/,
    /containers\.c\.ports\[1\]: "localhost:80" is not a port\. expected "\[ip:\]\[hostPort:\]containerPort/,
  ])
    assert.match(text, needle);
});

test("dependency cycles are refused", () => {
  const [cycle] = problems({
    containers: {
      a: { args: ["/bin/true"], dependsOn: ["b"] },
      b: { args: ["/bin/true"], dependsOn: ["a"] },
    },
  });
  assert.match(cycle ?? "", /dependency cycle: a -> b -> a/);
});

test("the config must be an object", () => {
  assert.match(
    problems([1, 2])[0] ?? "",
    /must be an object with a "containers" key, got an array/,
  );
});

test("ports: compose's short syntax, with the address, host port and protocol kept", () => {
  const config = resolveConfig(
    {
      containers: {
        web: {
          args: ["/bin/true"],
          ports: ["8080", "127.0.0.1:8081:80", "0.0.0.0:53:53/udp", "9000:90/tcp"],
        },
      },
    },
    ctx,
  );
  assert.deepEqual(config.containers["web"]?.ports, [
    { containerPort: 8080, protocol: "tcp" },
    { hostIp: "127.0.0.1", hostPort: 8081, containerPort: 80, protocol: "tcp" },
    { hostIp: "0.0.0.0", hostPort: 53, containerPort: 53, protocol: "udp" },
    { hostPort: 9000, containerPort: 90, protocol: "tcp" },
  ]);
  // Ports need a network of the container's own: without one, it is "private".
  assert.equal(config.containers["web"]?.network, "private");
});

test("networks: private, named ones, and the host; the default stays none", () => {
  const config = resolveConfig(
    {
      networks: { backend: {}, front: { subnet: "10.20.0.0/24" } },
      containers: {
        a: { args: ["/bin/true"], network: "backend" },
        b: { args: ["/bin/true"], network: "front", ports: ["8080:80"] },
        c: { args: ["/bin/true"], network: "private" },
        d: { args: ["/bin/true"] },
      },
    },
    ctx,
  );
  assert.deepEqual(config.networks, { backend: {}, front: { subnet: "10.20.0.0/24" } });
  assert.deepEqual(
    Object.values(config.containers).map((c) => c.network),
    ["backend", "front", "private", "none"],
  );
});

test("networks: each mistake is named with its key and what is expected", () => {
  const got = problems({
    networks: {
      private: {},
      "Bad Name": {},
      toolongnetworkname: {},
      a: { subnet: "10.20.0.1/24" },
      b: { subnet: "10.40.0.0/24" },
      f: { subnet: "10.40.0.128/25" },
      c: { subnet: "10.90.4.0/24" },
      d: { subnet: "10.30.0.0/29" },
      e: { subnet: "fd00::/64" },
    },
    containers: {
      x: { args: ["/bin/true"], network: "backend" },
      y: { args: ["/bin/true"], network: "none", ports: ["80"] },
      z: { args: ["/bin/true"], network: "host", ports: ["81"] },
      v6: { args: ["/bin/true"], ports: ["[::1]:53:53/udp"] },
      p1: { args: ["/bin/true"], ports: ["8080:80"] },
      p2: { args: ["/bin/true"], ports: ["0.0.0.0:8080:80"] },
      p3: { args: ["/bin/true"], ports: ["8080:80/udp"] },
      // A /29 has room for 5: the network address, the host's and the broadcast address are taken.
      ...Object.fromEntries(
        [1, 2, 3, 4, 5, 6].map((i) => [`d${i}`, { args: ["/bin/true"], network: "d" }]),
      ),
    },
  });
  const has = (path: string, re: RegExp) =>
    assert.ok(
      got.some((l) => l.startsWith(`railyard.config.ts: ${path}: `) && re.test(l)),
      `${path} ${re}\n${got.join("\n")}`,
    );
  has("networks.private", /built in/);
  has('networks["Bad Name"]', /not a network name/);
  has("networks.toolongnetworkname", /1 to 12/);
  has("networks.a.subnet", /host bits set. did you mean "10.20.0.0\/24"/);
  has("networks.f.subnet", /overlaps networks\.b\.subnet/);
  has("networks.c.subnet", /overlaps the pool of network "private" \(10\.90\.0\.0\/16\)/);
  has("networks.d.subnet", /room for 5 containers, and 6 are on it/);
  has("networks.e.subnet", /not a subnet/);
  has(
    "containers.x.network",
    /"backend" is not a network\. expected "none", "host", "private", "container:NAME" or a network declared under networks \(a, b, c, d, e, f\)/,
  );
  has("containers.y.ports", /network "none" has only loopback/);
  has("containers.z.ports", /with network "host" the program listens on the host's ports itself/);
  has("containers.v6.ports[0]", /UDP is not published on \[::1\]/);
  has(
    "containers.p2.ports[0]",
    /0\.0\.0\.0:8080\/tcp is already published by containers\.p1\.ports\[0\]/,
  );
  assert.ok(
    !got.some((l) => l.includes("containers.p3")),
    "udp 8080 is another port than tcp 8080",
  );
});

test("ports: a range publishes each port of it; a bad range says why", () => {
  const config = resolveConfig(
    {
      containers: { web: { args: ["/bin/true"], ports: ["8000-8002:9000-9002", "7000-7001/udp"] } },
    },
    ctx,
  );
  assert.deepEqual(
    config.containers["web"]?.ports.map((p) => [p.hostPort, p.containerPort, p.protocol]),
    [
      [8000, 9000, "tcp"],
      [8001, 9001, "tcp"],
      [8002, 9002, "tcp"],
      [undefined, 7000, "udp"],
      [undefined, 7001, "udp"],
    ],
  );
  const got = problems({
    containers: {
      a: { args: ["/bin/true"], ports: ["8000-8010:80"] },
      b: { args: ["/bin/true"], ports: ["8010-8000:8010-8000"] },
      c: { args: ["/bin/true"], ports: ["1-2:65535-65536"] },
      d: { args: ["/bin/true"], ports: ["81", "7999-8001:7999-8001"] },
      e: { args: ["/bin/true"], ports: ["8001"] },
    },
  });
  const line = (path: string) => got.find((l) => l.startsWith(`railyard.config.ts: ${path}: `));
  assert.match(
    line("containers.a.ports[0]") ?? "",
    /host range has 11 ports and the container range 1/,
  );
  assert.match(line("containers.b.ports[0]") ?? "", /from the lower port to the higher/);
  assert.match(line("containers.c.ports[0]") ?? "", /1 to 65535/);
  // A clash inside a range is named by the range's own index.
  assert.match(
    line("containers.e.ports[0]") ?? "",
    /127\.0\.0\.1:8001\/tcp is already published by containers\.d\.ports\[1\]/,
  );
});

test("networks on a container: several, with aliases, the first is network", () => {
  const config = resolveConfig(
    {
      networks: { front: {}, back: {} },
      containers: {
        proxy: { args: ["/bin/true"], networks: ["front", "back"] },
        db: { args: ["/bin/true"], networks: { back: { aliases: ["postgres", "pg.lan"] } } },
        web: { args: ["/bin/true"], network: "front" },
        solo: { args: ["/bin/true"], network: "private" },
      },
    },
    ctx,
  );
  const c = config.containers;
  assert.equal(c["proxy"]?.network, "front");
  assert.deepEqual(c["proxy"]?.networks, [
    { name: "front", aliases: [] },
    { name: "back", aliases: [] },
  ]);
  assert.deepEqual(c["db"]?.networks, [{ name: "back", aliases: ["postgres", "pg.lan"] }]);
  assert.deepEqual(c["web"]?.networks, [{ name: "front", aliases: [] }]);
  assert.deepEqual(c["solo"]?.networks, []);

  const got = problems({
    networks: { front: {}, back: {} },
    containers: {
      both: { args: ["/bin/true"], network: "front", networks: ["back"] },
      unknown: { args: ["/bin/true"], networks: ["front", "nowhere"] },
      builtin: { args: ["/bin/true"], networks: ["host"] },
      empty: { args: ["/bin/true"], networks: [] },
      twice: { args: ["/bin/true"], networks: ["front", "front"] },
      badalias: { args: ["/bin/true"], networks: { front: { aliases: ["no spaces"] } } },
      member: { args: ["/bin/true"], network: "back", hostname: "db-host" },
      clash: { args: ["/bin/true"], networks: { back: { aliases: ["member"] } } },
      clash2: { args: ["/bin/true"], networks: { back: { aliases: ["db-host"] } } },
    },
  });
  const has = (path: string, re: RegExp) =>
    assert.ok(
      got.some((l) => l.startsWith(`railyard.config.ts: ${path}: `) && re.test(l)),
      `${path} ${re}\n${got.join("\n")}`,
    );
  has("containers.both.networks", /give either network or networks/);
  has("containers.unknown.networks[1]", /"nowhere" is not a declared network.*\(back, front\)/);
  has("containers.builtin.networks[0]", /use network "host" instead of networks/);
  has("containers.empty.networks", /names no network/);
  has("containers.twice.networks[1]", /names front twice/);
  has("containers.badalias.networks.front.aliases[0]", /not a host name/);
  has("containers.clash.networks.back.aliases[0]", /member is already a container on network back/);
  has(
    "containers.clash2.networks.back.aliases[0]",
    /db-host is already a name of member on network back/,
  );
});

test("IPv6: dual-stack networks, ports on [::1] anywhere and on other IPv6 addresses where the container has one", () => {
  const config = resolveConfig(
    {
      networks: { dual: { ipv6: true }, given: { ipv6: "fd00:91:7::/64" }, v4: {} },
      containers: {
        a: { args: ["/bin/true"], network: "dual", ports: ["[::]:80:80", "[0:0::1]:81:81", "82"] },
        b: { args: ["/bin/true"], network: "v4", ports: ["[::1]:90:90"] },
        c: { args: ["/bin/true"], ports: ["[::1]:91:91", "127.0.0.1:91:91"] },
      },
    },
    ctx,
  );
  assert.deepEqual(config.networks["dual"], { ipv6: true });
  assert.deepEqual(config.networks["given"], { ipv6: "fd00:91:7::/64" });
  // One spelling per address.
  assert.equal(config.containers["a"]?.ports[1]?.hostIp, "::1");

  const got = problems({
    networks: {
      short: { ipv6: "fd00:1::/125" },
      bits: { ipv6: "fd00:1::1/64" },
      over: { ipv6: "fd00:1::/48" },
      lap: { ipv6: "fd00:1:0:5::/64" },
      v4: {},
    },
    containers: {
      p: { args: ["/bin/true"], ports: ["[::]:80:80"] },
      q: { args: ["/bin/true"], network: "v4", ports: ["[2001:db8::1]:80:80"] },
      u: { args: ["/bin/true"], network: "over", ports: ["[::1]:53:53/udp"] },
      bad: { args: ["/bin/true"], ports: ["[fe80::1::2]:80:80"] },
      // An unaddressed TCP port on a dual-stack network takes [::1] as well as 127.0.0.1.
      d1: { args: ["/bin/true"], network: "over", ports: ["8080:80"] },
      d2: { args: ["/bin/true"], ports: ["[::1]:8080:80"] },
    },
  });
  const has = (path: string, re: RegExp) =>
    assert.ok(
      got.some((l) => l.startsWith(`railyard.config.ts: ${path}: `) && re.test(l)),
      `${path} ${re}\n${got.join("\n")}`,
    );
  has("networks.short.ipv6", /len 48 to 120/);
  has("networks.bits.ipv6", /host bits set. did you mean "fd00:1::\/64"/);
  has("networks.over.ipv6", /fd00:1::\/48 overlaps networks\.lap\.ipv6/);
  has(
    "containers.p.ports[0]",
    /every IPv6 address needs an IPv6 address in the container: network "private" is IPv4 only/,
  );
  has("containers.q.ports[0]", /give networks\.v4 ipv6: true/);
  has("containers.u.ports[0]", /UDP is not published on \[::1\]/);
  has("containers.bad.ports[0]", /not an IPv6 address/);
  has(
    "containers.d2.ports[0]",
    /\[::1\]:8080\/tcp is already published by containers\.d1\.ports\[0\]/,
  );
});

test("healthcheck: docker's defaults, durations in milliseconds, the test's form kept", () => {
  const config = resolveConfig(
    {
      containers: {
        a: { args: ["/bin/true"], healthcheck: { test: "curl -f http://localhost/" } },
        b: {
          args: ["/bin/true"],
          healthcheck: {
            test: ["/bin/check", "--quick"],
            interval: "1m30s",
            timeout: 5,
            retries: 2,
            startPeriod: "10s",
          },
        },
      },
    },
    ctx,
  );
  assert.deepEqual(config.containers["a"]?.healthcheck, {
    test: "curl -f http://localhost/",
    interval: 30_000,
    timeout: 30_000,
    retries: 3,
    startPeriod: 0,
  });
  assert.deepEqual(config.containers["b"]?.healthcheck, {
    test: ["/bin/check", "--quick"],
    interval: 90_000,
    timeout: 5000,
    retries: 2,
    startPeriod: 10_000,
  });
  const text = problems({
    containers: {
      c: {
        args: ["/bin/true"],
        healthcheck: { test: " ", interval: "soon", timeout: 0, retries: 0, start: "1s" },
      },
      d: { args: ["/bin/true"], healthcheck: { test: [] } },
    },
  }).join("\n");
  for (const needle of [
    /containers\.c\.healthcheck\.start: unknown key/,
    /containers\.c\.healthcheck\.retries: /,
    /containers\.d\.healthcheck\.test: /,
  ])
    assert.match(text, needle);
  const semantic = problems({
    containers: {
      c: { args: ["/bin/true"], healthcheck: { test: " ", interval: "soon", timeout: 0 } },
    },
  }).join("\n");
  for (const needle of [
    /containers\.c\.healthcheck\.test: must be a command: it cannot be empty/,
    /containers\.c\.healthcheck\.interval: "soon" is not a duration/,
    /containers\.c\.healthcheck\.timeout: must be at least 1ms/,
  ])
    assert.match(semantic, needle);
});

test("shmSize and ulimits: sizes and limits as compose gives them; each bad value named", () => {
  const ok = resolveConfig(
    {
      containers: {
        db: {
          image: "postgres",
          shmSize: "128mb",
          ulimits: { nofile: { soft: 65535, hard: 262144 }, memlock: -1, nproc: "4096" },
        },
      },
    },
    ctx,
  ).containers["db"];
  assert.equal(ok?.shmSize, 128 * 1024 ** 2);
  assert.deepEqual(ok?.ulimits, {
    memlock: { soft: -1, hard: -1 },
    nofile: { soft: 65535, hard: 262144 },
    nproc: { soft: 4096, hard: 4096 },
  });
  const m = problems({
    containers: {
      a: {
        image: "x",
        shmSize: "lots",
        ulimits: { nofile: -1, files: 10, core: { soft: 10, hard: 5 }, stack: 1.5 },
      },
    },
  }).join("\n");
  assert.match(
    m,
    /containers\.a\.shmSize: "lots" is not a size\. expected bytes or e\.g\. "512m", "2g" \(the size of \/dev\/shm\)/,
  );
  assert.match(m, /containers\.a\.ulimits\.nofile: nofile cannot be unlimited/);
  assert.match(m, /containers\.a\.ulimits\.files: is not a limit\. expected one of as, core, cpu/);
  assert.match(m, /containers\.a\.ulimits\.core: soft 10 is above hard 5/);
  assert.match(m, /containers\.a\.ulimits\.stack: 1\.5 is not a limit\. expected a whole number/);
});

test("sysctls: only namespaced ones, net.* not on the host's network, each mistake named", () => {
  const ok = resolveConfig(
    {
      containers: {
        a: { image: "x", sysctls: { "net.core.somaxconn": 1024, "kernel.shmmax": "68719476736" } },
      },
    },
    ctx,
  ).containers["a"];
  assert.deepEqual(ok?.sysctls, { "kernel.shmmax": "68719476736", "net.core.somaxconn": "1024" });
  assert.equal(ok?.init, false);
  assert.throws(
    () =>
      resolveConfig(
        {
          containers: {
            a: { image: "x", sysctls: { "vm.swappiness": 10, "kernel.hostname": "x" } },
            b: { image: "x", network: "host", sysctls: { "net.ipv4.ip_forward": 1 } },
            c: { image: "x", sysctls: { "not a name": 1, "net.core.x": "" } },
          },
        },
        ctx,
      ),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const m = e.message;
      assert.match(
        m,
        /containers\.a\.sysctls\.vm\.swappiness: is not namespaced, so it would change the whole host/,
      );
      assert.match(m, /containers\.a\.sysctls\.kernel\.hostname: is not namespaced/);
      assert.match(
        m,
        /containers\.b\.sysctls\.net\.ipv4\.ip_forward: would change the host's network/,
      );
      assert.match(m, /containers\.c\.sysctls\["not a name"\]: is not a kernel parameter name/);
      assert.match(m, /containers\.c\.sysctls\.net\.core\.x: must be a value on one line/);
      return true;
    },
  );
});

test("secrets: each problem names its key; settle and onFailure are checked", () => {
  const p = problems({
    secrets: {
      both: { file: "/a", encrypted: "/b" },
      rel: { file: "relative/path" },
      "-bad": { file: "/x" },
      ok: { file: "/run/keys/ok" },
    },
    containers: {
      db: {
        image: "postgres",
        settle: "forever",
        secrets: [
          "missing",
          { source: "ok", target: "a/b" },
          { source: "ok", mode: "0999", target: "m" },
          "ok",
          { source: "ok", target: "/run/secrets/ok" },
        ],
      },
    },
  }).join("\n");
  assert.match(p, /secrets\.both: needs exactly one of file .* and encrypted/);
  assert.match(p, /secrets\.rel\.file: .*absolute/);
  assert.match(p, /secrets\.-bad: "-bad" is not a secret name/);
  assert.match(
    problems({ onFailure: " ", containers: {} }).join("\n"),
    /onFailure: must be a command: it cannot be empty/,
  );
  assert.match(p, /containers\.db\.settle: "forever" is not a duration/);
  assert.match(
    p,
    /containers\.db\.secrets\[0\]: "missing" is not under the top-level secrets\. expected one of: .*\bok\b/,
  );
  assert.match(
    p,
    /containers\.db\.secrets\[1\]\.target: a relative target is a file name under \/run\/secrets/,
  );
  assert.match(p, /containers\.db\.secrets\[2\]\.mode: "0999" is not an octal mode/);
  assert.match(
    p,
    /containers\.db\.secrets\[4\]\.target: \/run\/secrets\/ok is already the target of another secret/,
  );
});

test('network "container:NAME" joins NAME\'s namespace; each way it cannot is named', () => {
  const ok = resolveConfig(
    {
      containers: {
        vpn: { args: ["/bin/true"], ports: ["127.0.0.1:8080:8080"] },
        app: { args: ["/bin/true"], network: "container:vpn" },
      },
    },
    ctx,
  );
  assert.equal(ok.containers["app"]?.network, "container:vpn");
  const got = problems({
    containers: {
      host: { args: ["/bin/true"], network: "host" },
      alone: { args: ["/bin/true"] },
      vpn: { args: ["/bin/true"], network: "private" },
      self: { args: ["/bin/true"], network: "container:self" },
      nowhere: { args: ["/bin/true"], network: "container:ghost" },
      ported: { args: ["/bin/true"], network: "container:vpn", ports: ["9000"] },
      onhost: { args: ["/bin/true"], network: "container:host" },
      onnone: { args: ["/bin/true"], network: "container:alone" },
      joined: { args: ["/bin/true"], network: "container:vpn" },
      chain: { args: ["/bin/true"], network: "container:joined" },
      tuned: {
        args: ["/bin/true"],
        network: "container:vpn",
        sysctls: { "net.core.somaxconn": 1024 },
      },
    },
  });
  const has = (path: string, re: RegExp) =>
    assert.ok(
      got.some((l) => l.startsWith(`railyard.config.ts: ${path}: `) && re.test(l)),
      `${path} ${re}\n${got.join("\n")}`,
    );
  has("containers.self.network", /cannot join its own network namespace/);
  has("containers.nowhere.network", /"ghost" is not a container in this config/);
  has("containers.ported.ports", /has no ports of its own: publish them on vpn/);
  has("containers.onhost.network", /host is on network "host".*or use network "host" here too/);
  has("containers.onnone.network", /alone is on network "none", which has no namespace of its own/);
  has("containers.chain.network", /joined joins vpn's network itself: join that one/);
  has(
    "containers.tuned.sysctls.net.core.somaxconn",
    /would change vpn's network, which this container joins/,
  );
});

test("devices take host nodes and CDI names; CDI spec dirs default to podman's", () => {
  const c = resolveConfig(
    {
      containers: {
        jellyfin: {
          args: ["/bin/true"],
          devices: ["/dev/dri/renderD128", "nvidia.com/gpu=all", "/dev/fuse:/dev/fuse:rw"],
        },
      },
    },
    ctx,
  );
  const j = c.containers["jellyfin"];
  assert.deepEqual(
    j?.devices.map((d) => d.path),
    ["/dev/dri/renderD128", "/dev/fuse"],
  );
  assert.deepEqual(j?.cdiDevices, ["nvidia.com/gpu=all"]);
  assert.deepEqual(c.cdiSpecDirs, ["/etc/cdi", "/var/run/cdi"]);
  assert.deepEqual(resolveConfig({ containers: {}, cdiSpecDirs: ["/srv/cdi"] }, ctx).cdiSpecDirs, [
    "/srv/cdi",
  ]);
});

test("a bad device or CDI name is refused at its index, with both forms named", () => {
  assert.deepEqual(
    problems({
      cdiSpecDirs: ["cdi"],
      containers: {
        a: {
          args: ["/bin/true"],
          devices: ["gpu", "nvidia.com/gpu=all", "nvidia.com/gpu=all", "nvidia/gpu=-x"],
        },
      },
    }),
    [
      'railyard.config.ts: cdiSpecDirs[0]: "cdi" must be an absolute path',
      'railyard.config.ts: containers.a.devices[0]: "gpu": host path must be an absolute path under /dev/. expected "/dev/host[:/dev/container[:rwm]]", or a CDI device name such as "nvidia.com/gpu=all"',
      'railyard.config.ts: containers.a.devices[2]: "nvidia.com/gpu=all" is listed twice',
      'railyard.config.ts: containers.a.devices[3]: "nvidia/gpu=-x": the device name "-x" must start and end with a letter or digit and hold letters, digits, ".", ":", "-", "_". expected "vendor.com/class=name", e.g. "nvidia.com/gpu=all"',
    ],
  );
});

test("build: the context resolves against the config's directory, the Dockerfile against the context", () => {
  const c = resolveConfig(
    {
      containers: {
        app: { build: "./app" },
        api: {
          image: "registry.example/api:2",
          build: {
            context: "/srv/api",
            dockerfile: "docker/Dockerfile",
            args: { B: "2", A: "1" },
            target: "prod",
          },
        },
      },
    },
    { ...ctx, file: "/etc/railyard/railyard.config.ts" },
  );
  assert.deepEqual(c.containers["app"]?.image, {
    ref: "localhost/app:latest",
    build: { context: "/etc/railyard/app", args: {} },
    pull: "missing",
  });
  assert.equal(c.containers["api"]?.image?.ref, "registry.example/api:2");
  assert.deepEqual(c.containers["api"]?.image?.build, {
    context: "/srv/api",
    dockerfile: "/srv/api/docker/Dockerfile",
    args: { A: "1", B: "2" },
    target: "prod",
  });
  assert.deepEqual(
    problems({
      containers: {
        x: {
          imageFile: "/srv/x.tar",
          build: { context: "", args: { "1X": "a" }, target: "no good" },
        },
      },
    }),
    [
      "railyard.config.ts: containers.x.build.context: must be a directory: the build context",
      "railyard.config.ts: containers.x.build.args.1X: is not an ARG name (letters, digits and _, not starting with a digit)",
      'railyard.config.ts: containers.x.build.target: "no good" is not a stage name',
      "railyard.config.ts: containers.x.build: cannot be combined with imageFile: the image comes from one or the other",
    ],
  );
});

test("project: units named railyard-PROJECT-NAME, its own state dir unless given; a bad name is refused", () => {
  const containers = {
    db: { args: ["/bin/true"] },
    web: { args: ["/bin/true"], serviceName: "w" },
  };
  const c = resolveConfig({ project: "immich", containers }, ctx);
  assert.equal(c.project, "immich");
  assert.equal(c.stateDir, "/var/lib/railyard/projects/immich");
  assert.equal(c.containers["db"]?.serviceName, "railyard-immich-db.service");
  assert.equal(c.containers["web"]?.serviceName, "w.service", "a serviceName still wins");
  assert.equal(
    resolveConfig({ project: "immich", stateDir: "/srv/immich", containers }, ctx).stateDir,
    "/srv/immich",
  );
  // Without it, every name is as it was: nothing running restarts on upgrade.
  const plain = resolveConfig({ containers }, ctx);
  assert.equal(plain.project, undefined);
  assert.equal(plain.containers["db"]?.serviceName, "railyard-db.service");
  for (const bad of ["Immich", "-x", "", "a".repeat(33), "a b"])
    assert.match(
      problems({ project: bad, containers })[0] ?? "",
      /^railyard\.config\.ts: project: .* is not a project name\. expected 1 to 32 of a-z, 0-9, "-" and "_", starting with a letter or digit$/,
    );
});

test("an image defaults to network private, a host program to none, ports to private", () => {
  const c = resolveConfig(
    {
      containers: {
        img: { image: "busybox" },
        prog: { args: ["/bin/true"] },
        served: { args: ["/bin/true"], ports: ["80"] },
        quiet: { image: "busybox", network: "none" },
      },
    },
    ctx,
  );
  const net = (n: string) => c.containers[n]?.network;
  assert.deepEqual(["img", "prog", "served", "quiet"].map(net), [
    "private",
    "none",
    "private",
    "none",
  ]);
});

test("dns: servers, search domains and options for a container with a network; each bad one named", () => {
  const ok = resolveConfig(
    {
      containers: {
        a: {
          image: "x",
          dns: { servers: ["9.9.9.9", "2620:fe::fe"], search: ["home.arpa"], options: ["ndots:2"] },
        },
      },
    },
    ctx,
  ).containers["a"];
  assert.deepEqual(ok?.dns, {
    servers: ["9.9.9.9", "2620:fe::fe"],
    search: ["home.arpa"],
    options: ["ndots:2"],
  });
  const m = problems({
    containers: {
      a: {
        image: "x",
        dns: { servers: ["dns.google"], search: ["bad domain"], options: ["nd ots"] },
      },
      b: { image: "x", network: "host", dns: { servers: ["9.9.9.9"] } },
    },
  }).join("\n");
  assert.match(m, /containers\.a\.dns\.servers\[0\]: "dns\.google" is not an IP address/);
  assert.match(m, /containers\.a\.dns\.search\[0\]: "bad domain" is not a domain name/);
  assert.match(m, /containers\.a\.dns\.options\[0\]: "nd ots" is not a resolver option/);
  assert.match(
    m,
    /containers\.b\.dns: is for a container with a network of its own; on network "host"/,
  );
});
