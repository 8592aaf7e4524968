import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveConfig } from "../../config/resolve/index.js";
import { ConfigError } from "../../errors.js";
import { fakeContext } from "../../../tests/helpers/context.js";
import { DOCKER_CAPABILITIES, fromCompose, type ImportContext } from "./index.js";
import { effectiveCapabilities } from "../../model/capabilities.js";
import { interpolate, parseDotEnv, shellSplit } from "../interpolate.js";
import { renderConfigTs } from "../typescript.js";

const ctx: ImportContext = {
  file: "/srv/app/compose.yaml",
  dir: "/srv/app",
  env: { TAG: "1.25", EMPTY: "" },
  volumesDir: "/var/lib/railyard/volumes",
  home: "/home/nas",
};
const imp = (services: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  fromCompose({ services, ...extra }, ctx);
const problems = (services: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
  try {
    imp(services, extra);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.message;
  }
  assert.fail("expected a ConfigError");
};

test("interpolation follows the compose specification", () => {
  const env = { A: "a", E: "" };
  const v = (s: string) => interpolate(s, env).value;
  assert.equal(v("$A ${A} $$A"), "a a $A");
  assert.equal(v("${E:-d} ${E-d} ${U-d} ${U:-d}"), "d  d d");
  assert.equal(v("${A:+alt} ${E:+alt} ${E+alt} ${U+alt}"), "alt  alt ");
  assert.deepEqual(interpolate("x${U}y", env), { value: "xy", unset: ["U"] });
  assert.match(interpolate("${E:?give E}", env).error ?? "", /E is required: give E/);
  assert.equal(interpolate("${E?give E}", env).error, undefined);
  assert.match(interpolate("cost ${", env).error ?? "", /write "\$\$" for a literal "\$"/);
});

test("string commands split into words as compose splits them", () => {
  assert.deepEqual(shellSplit(`nginx -g 'daemon off;'`), ["nginx", "-g", "daemon off;"]);
  assert.deepEqual(shellSplit(`sh -c "echo \\"hi\\" \\\\ there"  ''`), [
    "sh",
    "-c",
    'echo "hi" \\ there',
    "",
  ]);
  assert.deepEqual(shellSplit(`a\\ b c`), ["a b", "c"]);
  assert.equal(shellSplit(`echo 'open`), undefined);
});

test(".env: comments, export, quotes", () => {
  assert.deepEqual(parseDotEnv(`# c\nexport A=1\nB="two\\nlines"\nC='$x'\nD=plain # note\n\n`), {
    vars: { A: "1", B: "two\nlines", C: "$x", D: "plain" },
  });
  assert.deepEqual(parseDotEnv("A=1\nnot a line\n"), { badLine: 2 });
});

test("the common keys map onto railyard's, with compose's defaults made explicit", () => {
  const { config, warnings } = imp({
    app: {
      image: "nginx:${TAG}",
      command: "nginx -g 'daemon off;'",
      entrypoint: "/docker-entrypoint.sh",
      environment: ["A=1", "B"],
      env_file: ["./app.env", { path: "/etc/x.env", required: false }],
      volumes: [
        "./html:/usr/share/nginx/html:ro,z",
        "cache:/var/cache/nginx",
        "/logs",
        { type: "tmpfs", target: "/run", tmpfs: { size: "16m" } },
        { type: "bind", source: "/etc/ssl", target: "/ssl", read_only: true },
      ],
      ports: [
        "8080:80",
        { target: 443, published: 8443, host_ip: "127.0.0.1" },
        "9000-9001:9000-9001",
      ],
      user: 101,
      restart: "on-failure:3",
      depends_on: {
        db: { condition: "service_healthy" },
        cache: { condition: "service_healthy" },
        builder: {},
      },
      mem_limit: "256m",
      deploy: {
        resources: { limits: { cpus: "1.5", pids: 64 }, reservations: { memory: "64m" } },
        replicas: 2,
      },
      stop_grace_period: "2.5s",
      labels: ["team=web"],
      privileged: true,
    },
    db: {
      image: "postgres:16",
      network_mode: "host",
      healthcheck: { test: ["CMD", "pg_isready"], retries: 2 },
    },
    cache: { image: "redis:7" },
    builder: { build: "." },
  });
  const app = config.containers?.["app"];
  assert.deepEqual(app, {
    image: "nginx:1.25",
    entrypoint: ["/docker-entrypoint.sh"],
    cmd: ["nginx", "-g", "daemon off;"],
    environment: { A: "1" },
    environmentFiles: ["/srv/app/app.env", "/etc/x.env"],
    volumes: [
      "/srv/app/html:/usr/share/nginx/html:ro",
      "/var/lib/railyard/volumes/cache:/var/cache/nginx",
      "/var/lib/railyard/volumes/app-logs:/logs",
      "/etc/ssl:/ssl:ro",
    ],
    tmpfs: ["/run:size=16m"],
    ports: ["0.0.0.0:8080:80", "127.0.0.1:8443:443", "0.0.0.0:9000-9001:9000-9001"],
    user: "101",
    capabilities: { AUDIT_WRITE: true, MKNOD: true, NET_RAW: true },
    // builder has only build: it is imported (built here), so the dependency stays.
    dependsOn: ["db", "cache", "builder"],
    labels: { team: "web" },
    restart: "on-failure",
    stopTimeout: 3,
    network: "default",
    resources: { memory: "256m", cpus: 1.5, pids: 64 },
  });
  assert.deepEqual(config.containers?.["db"]?.healthcheck, { test: ["pg_isready"], retries: 2 });
  assert.equal(config.containers?.["db"]?.network, "host");
  // A service with only build: is built, from the compose file's directory, as compose does.
  assert.deepEqual(config.containers?.["builder"]?.build, "/srv/app");
  const w = warnings.join("\n");
  for (const needle of [
    /services\.app\.environment\[1\]: B takes its value from the environment, where it is not set; left out/,
    /services\.app\.env_file\[1\]: required: false is not imported/,
    /services\.app\.volumes\[0\]: the option z \(an SELinux relabel\) is not imported; railyard applies no SELinux labels/,
    /services\.app\.volumes\[1\]: the named volume cache becomes the host directory \/var\/lib\/railyard\/volumes\/cache/,
    /services\.app\.volumes\[2\]: the anonymous volume becomes the host directory/,
    /services\.app\.ports\[2\]: "9000-9001:9000-9001" is published on every address/,
    /services\.app\.ports\[0\]: "8080:80" is published on every address \(0\.0\.0\.0\), as compose does, which bypasses the host firewall/,
    /services\.app\.restart: the limit of 3 retries is not imported/,
    /services\.app\.depends_on\.cache: condition service_healthy: cache has no healthcheck here, so railyard waits only for it to start/,
    /services\.app\.deploy\.replicas: is not imported/,
    /services\.app\.deploy\.resources\.reservations\.memory: is not imported/,
    /services\.app\.stop_grace_period: 2\.5s becomes 3 s/,
    /services\.app\.privileged: is not imported; railyard does not turn off every confinement at once/,
  ])
    assert.match(w, needle);
  assert.doesNotMatch(w, /depends_on\.db/, "db has a healthcheck: railyard waits for it to pass");
  // What comes out is a config railyard accepts.
  resolveConfig(config, fakeContext());
});

test("capabilities: compose's meaning, docker's default set, written as the difference from podman's", () => {
  const caps = (svc: Record<string, unknown>) => {
    const r = imp({ a: { image: "x", ...svc } });
    assert.ok(!r.warnings.some((w) => /cap_add/.test(w)), "no capability warning");
    return r.config.containers?.["a"]?.capabilities;
  };
  // No cap_add or cap_drop: docker's set, which is podman's plus these three.
  assert.deepEqual(caps({}), { AUDIT_WRITE: true, MKNOD: true, NET_RAW: true });
  // cap_drop ALL is exact: nothing but what cap_add names.
  assert.deepEqual(caps({ cap_drop: ["ALL"], cap_add: ["CAP_CHOWN", "net_bind_service"] }), {
    DAC_OVERRIDE: false, FOWNER: false, FSETID: false, KILL: false, SETFCAP: false,
    SETGID: false, SETPCAP: false, SETUID: false, SYS_CHROOT: false,
  }); // prettier-ignore
  assert.deepEqual(caps({ cap_add: ["SYS_TIME", "CHOWN"], cap_drop: ["KILL", "NET_RAW"] }), {
    AUDIT_WRITE: true,
    KILL: false,
    MKNOD: true,
    SYS_TIME: true,
  });
  // What the import wrote means docker's set once resolved.
  const r = imp({ a: { image: "x" } });
  const c = resolveConfig(r.config, fakeContext()).containers["a"];
  assert.ok(c);
  assert.deepEqual(
    effectiveCapabilities(c),
    [...DOCKER_CAPABILITIES].sort(),
    "the same set docker grants",
  );
  // 2000 services without cap_add: not one warning about capabilities.
  const many = imp(
    Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`s${i}`, { image: "x" }])),
  );
  assert.equal(many.warnings.filter((w) => /cap/.test(w)).length, 0);
});

test("sysctls (map or list) and init carry over; read_only only when true", () => {
  const r = imp({
    a: { image: "x", sysctls: { "net.core.somaxconn": 1024 }, init: true, read_only: false },
    b: { image: "x", sysctls: ["net.ipv4.tcp_syncookies=0"], read_only: true },
  });
  assert.deepEqual(r.config.containers?.["a"]?.sysctls, { "net.core.somaxconn": "1024" });
  assert.equal(r.config.containers?.["a"]?.init, true);
  assert.equal(r.config.containers?.["a"]?.readonly, undefined, "writable is an image's default");
  assert.deepEqual(r.config.containers?.["b"]?.sysctls, { "net.ipv4.tcp_syncookies": "0" });
  assert.equal(r.config.containers?.["b"]?.readonly, true);
});

test("healthcheck forms: CMD, CMD-SHELL, a string, NONE and disable", () => {
  const h = (test: unknown, more: Record<string, unknown> = {}) =>
    imp({ a: { image: "x", healthcheck: { test, ...more } } }).config.containers?.["a"]
      ?.healthcheck;
  assert.deepEqual(h(["CMD", "curl", "-f", "http://x/"]), { test: ["curl", "-f", "http://x/"] });
  assert.deepEqual(h(["CMD-SHELL", "curl -f http://x/ || exit 1"]), {
    test: "curl -f http://x/ || exit 1",
  });
  assert.deepEqual(h("true", { interval: "5s", start_period: "1m" }), {
    test: "true",
    interval: "5s",
    startPeriod: "1m",
  });
  assert.equal(h(["NONE"]), undefined);
  assert.equal(h("true", { disable: true }), undefined);
});

test("bad values are reported with their compose path, all at once, and nothing is returned", () => {
  const text = problems({
    "-bad": { image: "x" },
    a: {
      image: "x",
      ports: ["99999:80"],
      restart: "sometimes",
      cap_add: ["FLY"],
      command: "echo 'x",
    },
    b: { command: ["true"] },
    c: { image: "x", environment: "A=1", healthcheck: { test: ["RUN", "x"] }, mem_limit: "lots" },
    d: { image: "${MISSING:?set MISSING to the tag}" },
  });
  for (const needle of [
    /\/srv\/app\/compose\.yaml: services\.-bad: /,
    /services\.a\.ports\[0\]: "99999:80": ports are 1 to 65535/,
    /services\.a\.restart: "sometimes" is not a restart policy/,
    /services\.a\.cap_add\[0\]: "FLY" is not a Linux capability/,
    /services\.a\.command: "echo 'x" has a quote that is not closed/,
    /services\.b\.image: is required \(or build\): railyard runs images/,
    /services\.c\.environment: expected a map or a list of "KEY=value", got the string "A=1"/,
    /services\.c\.healthcheck\.test: must start with "CMD", "CMD-SHELL" or "NONE", got "RUN"/,
    /services\.c\.mem_limit: "lots" is not a size/,
    /services\.d\.image: MISSING is required: set MISSING to the tag/,
  ])
    assert.match(text, needle);
  assert.match(
    (() => {
      try {
        fromCompose([1], ctx);
      } catch (e) {
        return (e as Error).message;
      }
      return "";
    })(),
    /expected a compose file \(a map with "services"\), got a list/,
  );
});

test("the project name is compose's: name, else COMPOSE_PROJECT_NAME, else the directory's", () => {
  const project = (doc: Record<string, unknown>, o: Partial<ImportContext> = {}) =>
    fromCompose({ services: { db: { image: "postgres" } }, ...doc }, { ...ctx, ...o }).config
      .project;
  assert.equal(project({ name: "immich" }), "immich");
  assert.equal(project({}, { env: { COMPOSE_PROJECT_NAME: "photos" } }), "photos");
  assert.equal(project({ name: "immich" }, { env: { COMPOSE_PROJECT_NAME: "photos" } }), "immich");
  // The directory's name, lowercased, with what a project name cannot hold left out.
  assert.equal(project({}, { dir: "/srv/My Paperless.NGX" }), "mypaperlessngx");
  assert.equal(project({}), "app");
  assert.throws(
    () => project({ name: "Bad Name" }),
    /compose\.yaml: name: "Bad Name" is not a project name/,
  );
});

test("a file that is no compose map is named by its kind, never quoted: it may be a secret", () => {
  for (const [doc, kind] of [
    ["hunter2-the-database-password", "a string"],
    [4242424242, "a number"],
    [null, "an empty document"],
  ] as const) {
    const e = (() => {
      try {
        fromCompose(doc, ctx);
      } catch (e) {
        return e as Error;
      }
      assert.fail("expected a ConfigError");
    })();
    assert.ok(e instanceof ConfigError);
    assert.equal(
      e.message,
      `/srv/app/compose.yaml: expected a compose file (a map with "services"), got ${kind}`,
    );
  }
});

test("networks: compose's implicit default, named ones with their subnets, several, aliases", () => {
  const { config, warnings } = imp(
    {
      a: { image: "x" },
      b: { image: "x", networks: ["Front_End", "back"] },
      c: { image: "x", networks: { back: { aliases: ["db"], ipv4_address: "10.20.0.9" } } },
      d: { image: "x", network_mode: "bridge" },
      h: { image: "x", networks: { back: null } },
      e: { image: "x", ports: ["[::1]:53:53/udp", "127.0.0.1:80:80"] },
      f: { image: "x", networks: ["private-f"] },
      // The VPN-sidecar pattern.
      g: { image: "x", network_mode: "service:a" },
    },
    {
      networks: {
        back: { ipam: { config: [{ subnet: "10.20.0.0/24" }] } },
        Front_End: { external: true },
      },
    },
  );
  assert.deepEqual(
    Object.fromEntries(
      Object.entries(config.containers ?? {}).map(([n, c]) => [n, c.network ?? c.networks]),
    ),
    {
      a: "default",
      b: ["front_end", "back"],
      c: { back: { aliases: ["db"] } },
      d: "private",
      e: "default",
      f: "private",
      g: "container:a",
      h: "back",
    },
  );
  assert.deepEqual(config.networks, {
    back: { subnet: "10.20.0.0/24" },
    default: {},
    front_end: {},
  });
  assert.deepEqual(config.containers?.["e"]?.ports, ["127.0.0.1:80:80"]);
  const w = warnings.join("\n");
  for (const needle of [
    /services\.b\.networks\.Front_End: Front_End becomes front_end/,
    /services\.c\.networks\.back: ipv4_address not imported/,
    /services\.d\.network_mode: "bridge" is not imported; the container gets network "private"/,
    /networks\.Front_End: external not imported/,
    /services\.e\.ports\[0\]: "\[::1\]:53:53\/udp": UDP on \[::1\] is not published .*; left out/,
  ])
    assert.match(w, needle);
  assert.doesNotMatch(w, /services\.g/, "network_mode service:a carries over");
  assert.doesNotMatch(w, /aliases|on one network/, "several networks and aliases carry over");
  // What it imports is a config railyard accepts.
  resolveConfig(config, fakeContext());
});

test("top-level keys other than services, volumes, networks and secrets are named", () => {
  const { warnings } = imp(
    { a: { image: "x" } },
    { networks: { front: {} }, configs: {}, version: "3.8" },
  );
  assert.ok(!warnings.some((w) => w.startsWith("networks")));
  assert.ok(warnings.includes("configs: is not imported; railyard has no such setting"));
  assert.ok(!warnings.some((w) => w.startsWith("version")));
});

test("the TypeScript config is defineConfig around the object, with the warnings as comments", () => {
  const ts = renderConfigTs(
    { containers: { "my-app": { image: "x", cmd: ["a", "b"], environment: { "A.B": "1" } } } },
    "Imported from compose.yaml.",
    ["services.x.y: is not imported"],
  );
  assert.equal(
    ts,
    `// Imported from compose.yaml.
// Not carried over, or changed (railyard import printed these too):
//   services.x.y: is not imported
import { defineConfig } from "railyard";

export default defineConfig({
  containers: {
    "my-app": {
      image: "x",
      cmd: ["a", "b"],
      environment: {
        "A.B": "1",
      },
    },
  },
});
`,
  );
});

test("secrets: file sources as they are, environment sources as a file to create, long syntax with ids and an octal mode", () => {
  const { config, warnings } = imp(
    {
      db: {
        image: "postgres:16",
        environment: { POSTGRES_PASSWORD_FILE: "/run/secrets/db_password" },
        secrets: [
          "db_password",
          { source: "token", target: "api", uid: "999", gid: "999", mode: 440 },
        ],
      },
    },
    {
      secrets: {
        db_password: { file: "./db_password.txt" },
        token: { environment: "API_TOKEN" },
        old: { external: true },
      },
    },
  );
  assert.deepEqual(config.secrets, {
    db_password: { file: "/srv/app/db_password.txt" },
    token: { file: "/srv/app/secrets/token" },
  });
  assert.deepEqual(config.containers?.["db"]?.secrets, [
    "db_password",
    { source: "token", target: "api", uid: 999, gid: 999, mode: 0o440 },
  ]);
  const w = warnings.join("\n");
  assert.match(
    w,
    /secrets\.token\.environment: comes from the variable API_TOKEN; .*write its value to \/srv\/app\/secrets\/token \(mode 0600\)/,
  );
  assert.match(w, /secrets\.old: external \(swarm\) secrets are not imported/);
  assert.doesNotMatch(
    w,
    /services\.db\.secrets/,
    "the service's secrets are imported, not dropped",
  );
  // And it is a valid railyard config: each secret at /run/secrets/<target>, root, 0444 unless given.
  const resolved = resolveConfig(config, fakeContext());
  assert.deepEqual(resolved.containers["db"]?.secrets, [
    { source: "db_password", target: "/run/secrets/db_password", uid: 0, gid: 0, mode: 0o444 },
    { source: "token", target: "/run/secrets/api", uid: 999, gid: 999, mode: 0o440 },
  ]);
});

test("GPU requests become CDI device names: driver cdi as named, NVIDIA's as nvidia.com/gpu", () => {
  const { config, warnings } = imp({
    ollama: {
      image: "ollama/ollama",
      deploy: {
        resources: {
          reservations: {
            devices: [{ driver: "nvidia", count: "all", capabilities: ["gpu"] }],
          },
        },
      },
    },
    immich: {
      image: "immich-ml",
      devices: ["/dev/dri:/dev/dri", "vendor.example/fpga=0"],
      deploy: {
        resources: {
          reservations: {
            devices: [
              { driver: "cdi", device_ids: ["vendor.example/fpga=0", "vendor.example/fpga=1"] },
              { capabilities: [["gpu"]], device_ids: ["GPU-4a3b"] },
            ],
          },
        },
      },
    },
    jellyfin: { image: "jellyfin/jellyfin", gpus: [{ driver: "nvidia", count: 1 }] },
    other: {
      image: "x",
      deploy: { resources: { reservations: { devices: [{ driver: "amd", count: 1 }] } } },
    },
  });
  assert.deepEqual(config.containers?.["ollama"]?.devices, ["nvidia.com/gpu=all"]);
  assert.deepEqual(config.containers?.["immich"]?.devices, [
    "/dev/dri:/dev/dri",
    "vendor.example/fpga=0",
    "vendor.example/fpga=1",
    "nvidia.com/gpu=GPU-4a3b",
  ]);
  assert.deepEqual(config.containers?.["jellyfin"]?.devices, ["nvidia.com/gpu=all"]);
  assert.equal(config.containers?.["other"]?.devices, undefined);
  const text = warnings.join("\n");
  assert.match(
    text,
    /services\.ollama\.deploy\.resources\.reservations\.devices\[0\]: needs NVIDIA's CDI spec on the host: nvidia-ctk cdi generate/,
  );
  assert.match(text, /services\.jellyfin\.gpus\[0\]\.count: a count of GPUs cannot be kept/);
  assert.match(
    text,
    /services\.other\.deploy\.resources\.reservations\.devices\[0\]: a device request for driver "amd" is not imported/,
  );
  // What was imported resolves: the names are valid CDI names.
  const ok = resolveConfig(config, fakeContext());
  assert.deepEqual(ok.containers["immich"]?.cdiDevices.length, 3);
});

test("build: a context or a map; paths from the compose file's directory; the rest is named", () => {
  const { config, warnings } = imp({
    api: {
      image: "registry.example/api:2",
      build: {
        context: "./api",
        dockerfile: "docker/Dockerfile",
        args: ["VERSION=2.1", "TOKEN"],
        target: "prod",
        cache_from: ["registry.example/api:cache"],
      },
    },
    worker: { build: "worker" },
  });
  assert.deepEqual(config.containers?.["api"]?.build, {
    context: "/srv/app/api",
    dockerfile: "docker/Dockerfile",
    args: { VERSION: "2.1" },
    target: "prod",
  });
  assert.equal(config.containers?.["api"]?.image, "registry.example/api:2");
  assert.equal(config.containers?.["worker"]?.build, "/srv/app/worker");
  assert.equal(config.containers?.["worker"]?.image, undefined);
  assert.match(warnings.join("\n"), /services\.api\.build\.cache_from: is not imported/);
  assert.match(
    warnings.join("\n"),
    /services\.api\.build\.args\[1\]: TOKEN takes its value from the environment, where it is not set/,
  );
  const resolved = resolveConfig(config, fakeContext());
  assert.deepEqual(
    resolved.containers["api"]?.image?.build?.dockerfile,
    "/srv/app/api/docker/Dockerfile",
  );
  assert.equal(resolved.containers["worker"]?.image?.ref, "localhost/worker:latest");
  // A git repository alone carries over: railyard fetches it at build.
  const git = imp({
    x: {
      build: { context: "https://github.com/example/app.git#v2:srv", dockerfile: "Containerfile" },
    },
  });
  assert.deepEqual(git.config.containers?.["x"]?.build, {
    context: "https://github.com/example/app.git#v2:srv",
    dockerfile: "Containerfile",
  });
  const gitBuild = resolveConfig(git.config, fakeContext()).containers["x"]?.image?.build;
  assert.deepEqual(gitBuild?.git, {
    url: "https://github.com/example/app.git",
    ref: "v2",
    subdir: "srv",
  });
  assert.equal(gitBuild?.dockerfile, "Containerfile", "found in the checkout, at build");
  // A URL that is no git repository is a tarball to docker: refused, with why.
  assert.match(
    problems({ x: { build: "https://example.com/app.tar.gz" } }),
    /services\.x\.build: https:\/\/example\.com\/app\.tar\.gz is a URL that does not end in \.git/,
  );
  // With an image beside it, the image is pulled, as compose does (FreshRSS's compose file).
  const pulled = imp({
    rss: {
      image: "freshrss/freshrss",
      build: {
        context: "https://github.com/FreshRSS/FreshRSS.git#latest",
        dockerfile: "Docker/Dockerfile",
      },
    },
  });
  assert.equal(pulled.config.containers?.["rss"]?.image, "freshrss/freshrss");
  assert.equal(pulled.config.containers?.["rss"]?.build, undefined);
  assert.match(
    pulled.warnings.join("\n"),
    /services\.rss\.build\.context: https:\/\/github\.com\/FreshRSS\/FreshRSS\.git#latest is a remote context: the image is pulled, as compose does\. to build it here instead, give the container build: \{ context: "https:\/\/github\.com\/FreshRSS\/FreshRSS\.git#latest" \}/,
  );
});

test("x-railyard carries railyard's own settings in a compose file; other x- keys are quiet", () => {
  const { config, warnings } = imp(
    { app: { image: "nginx" } },
    {
      "x-railyard": { stateDir: "/tank/railyard", registries: { "nas:5000": { insecure: true } } },
      "x-logging": { driver: "json-file" },
    },
  );
  assert.equal(config.stateDir, "/tank/railyard");
  assert.deepEqual(config.registries, { "nas:5000": { insecure: true } });
  assert.doesNotMatch(warnings.join("\n"), /x-logging|x-railyard/);
  assert.match(
    problems({ app: { image: "nginx" } }, { "x-railyard": { containers: {} } }),
    /x-railyard\.containers: containers come from services; set their keys there/,
  );
});

test("routing by labels: the Docker API socket is left out, and labels and variables a proxy reads through it are said to route nothing", () => {
  const { config, warnings } = imp({
    traefik: {
      image: "traefik:v3",
      volumes: ["/var/run/docker.sock:/var/run/docker.sock:ro", "./acme:/acme"],
    },
    whoami: {
      image: "traefik/whoami",
      labels: ["traefik.enable=true", "traefik.http.routers.whoami.rule=Host(`w.example`)"],
    },
    app: { image: "nextcloud", environment: { VIRTUAL_HOST: "cloud.example", TZ: "UTC" } },
  });
  assert.deepEqual(config.containers?.["traefik"]?.volumes, ["/srv/app/acme:/acme"]);
  const w = warnings.join("\n");
  assert.match(
    w,
    /services\.traefik\.volumes\[0\]: \/var\/run\/docker\.sock is the Docker API socket, and railyard runs no Docker daemon: traefik would see no containers through it/,
  );
  assert.match(
    w,
    /services\.whoami\.labels: the labels traefik\.enable, traefik\.http\.routers\.whoami\.rule are read by traefik through the Docker API, which railyard does not serve: kept, but they route nothing\. route to whoami in the proxy's own config \(traefik's file provider\)/,
  );
  assert.match(
    w,
    /services\.app\.environment: VIRTUAL_HOST is read by nginx-proxy through the Docker API/,
  );
  assert.equal(config.containers?.["app"]?.environment?.["VIRTUAL_HOST"], "cloud.example");
  const one = imp({
    proxy: { image: "nginxproxy/nginx-proxy", labels: { "com.github.nginx-proxy.nginx": "" } },
  });
  assert.match(
    one.warnings.join("\n"),
    /services\.proxy\.labels: the label com\.github\.nginx-proxy\.nginx is read by nginx-proxy through the Docker API, which railyard does not serve: kept, but it routes nothing/,
  );
});

test("pid: host carries over; logging and container_name are said to be the journal's and railyard's", () => {
  const logging = { driver: "json-file", options: { "max-size": "10m" } };
  const netdata = { image: "netdata/netdata", pid: "host", container_name: "netdata", logging };
  const { config, warnings } = imp({ netdata });
  assert.equal(config.containers?.["netdata"]?.pid, "host");
  const w = warnings.join("\n");
  assert.match(
    w,
    /services\.netdata\.logging: not imported: a service's output goes to the journal/,
  );
  assert.match(w, /services\.netdata\.container_name: not imported: railyard names the container/);
});

test("extra_hosts becomes extraHosts in each of compose's forms, host-gateway kept", () => {
  const list = imp({
    app: {
      image: "x",
      extra_hosts: [
        "host.docker.internal:host-gateway",
        "nas=192.168.1.5",
        "v6:::1",
        "b=[fd00::2]",
      ],
    },
  });
  assert.deepEqual(list.config.containers?.["app"]?.extraHosts, {
    "host.docker.internal": "host-gateway",
    nas: "192.168.1.5",
    v6: "::1",
    b: "fd00::2",
  });
  const map = imp({
    app: { image: "x", extra_hosts: { db: ["10.0.0.2", "fd00::2"], gw: "host-gateway" } },
  });
  assert.deepEqual(map.config.containers?.["app"]?.extraHosts, {
    db: ["10.0.0.2", "fd00::2"],
    gw: "host-gateway",
  });
  assert.doesNotMatch(map.warnings.join("\n"), /extra_hosts/);
});

test("dns, dns_search and dns_opt become dns, a string or a list", () => {
  const { config } = imp({
    app: { image: "x", dns: "9.9.9.9", dns_search: ["home.arpa"], dns_opt: ["ndots:2"] },
  });
  assert.deepEqual(config.containers?.["app"]?.dns, {
    servers: ["9.9.9.9"],
    search: ["home.arpa"],
    options: ["ndots:2"],
  });
});
