/**
 * Images written like the official postgres and nginx images (root entrypoint, chown of the data
 * volume, gosu or setuid workers, pid and socket files under /run), built from Debian's packages,
 * pushed to a real registry, and run with the config a user copies from a Docker Hub page: image,
 * environment, one volume, one published port. No capability or tmpfs tweaks. Real clients (psql,
 * curl) answer from the host, under `railyard run` and under `switch` with a real systemd, and
 * again after a restart over the existing data.
 *
 * The images are pulled on the host (the registry is on its loopback); the containers run in a
 * booted systemd with a network namespace of its own, so published ports and their nftables
 * rules never touch the host's network.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { runtimeId } from "../helpers/ids.js";
import { after, before, describe, test } from "node:test";
import { railyard, scratchDir, type CliResult } from "../helpers/cli.js";
import { debianImage } from "../helpers/debian-images.js";
import { REPO_ROOT } from "../helpers/paths.js";
import { NGINX_LIKE, POSTGRES_LIKE } from "../helpers/official-images.js";
import { push, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { bootSystemd, waitFor, type BootedSystemd } from "../helpers/systemd.js";

const { dir, cleanup } = scratchDir("railyard-official-");
let registry: TestRegistry;
let sd: BootedSystemd;
let pgRef = "";
let nginxRef = "";

before(async () => {
  const pg = debianImage("postgres-like", POSTGRES_LIKE);
  const nginx = debianImage("nginx-like", NGINX_LIKE);
  registry = await startRegistry(join(dir, "registry"));
  pgRef = `${registry.host}/library/postgres-like:15`;
  nginxRef = `${registry.host}/library/nginx-like:1`;
  push(pg, "v1", pgRef);
  push(nginx, "v1", nginxRef);
  sd = await bootSystemd(join(dir, "ns"), [dir], { isolateNetwork: true });
});
after(async () => {
  await sd?.stop();
  await registry?.stop();
  cleanup();
});

let n = 0;
/** A project: its config file (JSON, as a user would write it) and a state dir. */
function project(
  containers: Record<string, unknown>,
  top: Record<string, unknown> = {},
): { cfg: string[]; home: string } {
  const home = join(dir, `p${n++}`);
  mkdirSync(home, { recursive: true });
  const file = join(home, "railyard.config.json");
  writeFileSync(
    file,
    JSON.stringify(
      {
        stateDir: join(home, "state"),
        runtime: "runc",
        registries: { [registry.host]: { insecure: true } },
        ...top,
        containers,
      },
      null,
      2,
    ),
  );
  return { cfg: ["--config", file], home };
}

/**
 * `railyard import compose` of HOME/compose.yaml, plus only what a user adds for this host (state
 * dir, runtime, the plain-HTTP registry); the containers stay as imported.
 */
async function importCompose(
  home: string,
): Promise<{ cfg: string[]; file: string; stderr: string }> {
  const imp = await railyard(["import", "compose", join(home, "compose.yaml"), "--format", "json"]);
  assert.equal(imp.code, 0, imp.stderr);
  const file = join(home, "railyard.config.json");
  writeFileSync(
    file,
    JSON.stringify({
      ...(JSON.parse(imp.stdout) as Record<string, unknown>),
      stateDir: join(home, "state"),
      runtime: "runc",
      registries: { [registry.host]: { insecure: true } },
    }),
  );
  return { cfg: ["--config", file], file, stderr: imp.stderr };
}

/** A compose project's directory, with a page at PAGE/index.html for its web server. */
function composeHome(name: string, page: string, text: string): string {
  const home = join(dir, name);
  mkdirSync(join(home, page), { recursive: true });
  writeFileSync(join(home, page, "index.html"), text);
  return home;
}

/**
 * `railyard -c HOME/compose.yaml switch` after a build on the host: COMPOSE is written as
 * compose.yaml, with the test registry in x-railyard, as a user keeps it.
 */
async function switchCompose(
  home: string,
  compose: string,
): Promise<{ cfg: string[]; stderr: string }> {
  writeFileSync(
    join(home, "compose.yaml"),
    `${compose}x-railyard:\n  registries: { "${registry.host}": { insecure: true } }\n`,
  );
  const cfg = ["-c", join(home, "compose.yaml"), "--state-dir", join(home, "state")];
  await buildOnHost(cfg);
  const r = await sd.railyard([...cfg, "switch"]);
  assert.equal(r.code, 0, r.stderr);
  return { cfg, stderr: r.stderr };
}

/** Pull, unpack and build on the host, where the registry is reachable. */
async function buildOnHost(cfg: string[]): Promise<void> {
  const r = await railyard([...cfg, "build"], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.stderr);
}

/**
 * Leave the host as the test found it: `railyard down` stops the project's services and removes
 * their units. The next project may then use the same names (another project's unit is refused),
 * the same addresses and the same network namespace names.
 */
async function leave(cfg: string[]): Promise<void> {
  const r = await sd.railyard([...cfg, "down"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
}

/** psql from the host as postgres, with the password the configs here give (or `password`). */
const psql = (port: number, sql: string, password = "secret"): CliResult =>
  sd.exec("psql", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-tAc", sql], {
    env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "2" },
  });
const curl = (port: number): string =>
  sd.exec("curl", ["-sS", "-m", "3", `http://127.0.0.1:${port}/`]).stdout;

/** Wait until psql's answer to `sql` is `want`, or until curl gets the page `want`. */
const pgSays = (port: number, sql: string, want: string, explain?: () => string) =>
  waitFor(`psql on ${port}: ${sql}`, () => psql(port, sql).stdout.trim() === want, 60_000, explain);
const webSays = (port: number, want: string, explain?: () => string) =>
  waitFor(`curl on ${port}`, () => curl(port) === want, 30_000, explain);

/** nginx's workers (at least `count`) run as www-data (33), so its master's setuid worked. */
function assertWorkersAreWwwData(count: number): void {
  const workers = sd
    .exec("ps", ["-eo", "uid=,args="])
    .stdout.split("\n")
    .filter((l) => l.includes("nginx: worker process"));
  assert.ok(workers.length >= count, workers.join("\n"));
  for (const w of workers) assert.match(w.trim(), /^33 /, "a worker runs as www-data (33)");
}

/** The first A record for `name` from a DNS server on 127.0.0.1:`port` (UDP), or "". */
function dnsQuery(port: number, name: string): string {
  const script = `import socket,struct,sys
q=struct.pack(">HHHHHH",7,256,1,0,0,0)+b"".join(bytes([len(p)])+p.encode() for p in sys.argv[2].split("."))+b"\\0"+struct.pack(">HH",1,1)
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(2);s.sendto(q,("127.0.0.1",int(sys.argv[1])))
d=s.recv(512);an=struct.unpack(">H",d[6:8])[0]
print(".".join(map(str,d[-4:])) if an else "")`;
  return sd.exec("python3", ["-c", script, String(port), name]).stdout.trim();
}

/** `railyard run NAME` inside the namespace, in the background; `stop` signals the container. */
function runInBackground(cfg: string[], name: string) {
  let result: CliResult | undefined;
  const done = sd.railyard([...cfg, "run", name]).then((r) => (result = r));
  return {
    exited: () => result !== undefined,
    output: () => (result ? `${result.stdout}\n${result.stderr}` : "(still running)"),
    async stop(signal: string): Promise<CliResult> {
      // The project's state dir: --state-dir, else project()'s, beside the config file.
      const i = cfg.indexOf("--state-dir");
      const state = i >= 0 ? (cfg[i + 1] ?? "") : join(dirname(cfg[1] ?? ""), "state");
      const k = sd.exec("runc", ["kill", runtimeId(state, name), signal]);
      assert.equal(k.code, 0, k.stderr);
      return done;
    },
  };
}

const pgConfig = (data: string, port: number) => ({
  image: pgRef,
  environment: { POSTGRES_PASSWORD: "secret" },
  volumes: [`${data}:/var/lib/postgresql/data`],
  ports: [`127.0.0.1:${port}:5432`],
});
const nginxConfig = (site: string, port: number, extra: Record<string, unknown> = {}) => ({
  image: nginxRef,
  volumes: [`${site}:/usr/share/nginx/html:ro`],
  ports: [`127.0.0.1:${port}:80`],
  ...extra,
});
function site(text: string): string {
  const d = join(dir, `site-${n++}`);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "index.html"), `${text}\n`);
  return d;
}

describe("railyard run", () => {
  test("postgres-like: initialises its volume as postgres, answers psql, and again after a restart over its data", async () => {
    const data = join(dir, "pgdata-run");
    const { cfg } = project({ db: pgConfig(data, 15432) });
    await buildOnHost(cfg);

    const first = runInBackground(cfg, "db");
    await pgSays(15432, "select 1", "1", first.output);
    assert.equal(psql(15432, "create table t (v text); insert into t values ('kept')").code, 0);
    const r1 = await first.stop("INT");
    assert.match(r1.stdout, /entrypoint: initialised \/var\/lib\/postgresql\/data/);
    // The volume belongs to the image's postgres user, as under docker.
    const owner = statSync(data).uid;
    assert.notEqual(owner, 0, "chowned to the service user");
    assert.equal(statSync(data).mode & 0o777, 0o700);

    const second = runInBackground(cfg, "db");
    await pgSays(15432, "select v from t", "kept", second.output);
    const r2 = await second.stop("INT");
    assert.doesNotMatch(r2.stdout, /initialised/, "the existing data is used, not replaced");
    assert.equal(statSync(data).uid, owner);
  });

  test("nginx-like: the root master starts workers as www-data, which serve the volume", async () => {
    const { cfg } = project({ web: nginxConfig(site("hello from a volume"), 18080) });
    await buildOnHost(cfg);
    const web = runInBackground(cfg, "web");
    await webSays(18080, "hello from a volume\n", web.output);
    assertWorkersAreWwwData(2);
    await web.stop("QUIT");
    const again = runInBackground(cfg, "web");
    await webSays(18080, "hello from a volume\n", again.output);
    await again.stop("QUIT");
  });

  test("hardened: a read-only root with tmpfs for /run and the cache, and only the capabilities nginx uses", async () => {
    const { cfg } = project({
      web: nginxConfig(site("hardened"), 18081, {
        readonly: true,
        tmpfs: ["/run", "/var/cache/nginx"],
        capabilities: {
          DAC_OVERRIDE: false, FOWNER: false, FSETID: false, KILL: false,
          NET_BIND_SERVICE: false, SETFCAP: false, SETPCAP: false, SYS_CHROOT: false,
        }, // prettier-ignore
      }),
    });
    await buildOnHost(cfg);
    const web = runInBackground(cfg, "web");
    await webSays(18081, "hardened\n", web.output);
    await web.stop("QUIT");
  });
});

describe("a host program as a system service", () => {
  test("examples/nginx: the host's nginx serves its page on a published port, its workers as www-data", async () => {
    const example = join(REPO_ROOT, "examples/nginx/railyard.config.ts");
    const cfg = ["--config", example, "--state-dir", join(dir, "example-state")];
    const web = runInBackground(cfg, "web");
    await waitFor(
      "curl answers",
      () => curl(8080).includes("Welcome to nginx!"),
      60_000,
      web.output,
    );
    assertWorkersAreWwwData(1);
    await web.stop("QUIT");
  });
});

describe("Debian daemons from the host, as their packages' units run them, with no setup lines", () => {
  test("nginx under switch: its unit's settings, its log in a volume that outlives a restart", async () => {
    const { cfg, home } = project({
      web: { service: "nginx.service", closure: "packages", ports: ["127.0.0.1:18090:80"] },
    });
    const check = await railyard([...cfg, "--json", "check"]);
    assert.equal(check.code, 0, check.stderr);
    const took = (
      JSON.parse(check.stdout) as {
        containers: { web: { fromHost: { took: { key: string; value: string }[] } } };
      }
    ).containers.web.fromHost.took.map((t) => `${t.key} ${t.value}`);
    for (const want of [
      "stopSignal SIGQUIT",
      "capabilities SETUID SETGID CHOWN",
      "include /etc/nginx/sites-enabled/default",
      "volumes /var/log/nginx",
    ])
      assert.ok(took.includes(want), `${want} in ${took.join("; ")}`);
    const r = await sd.railyard([...cfg, "switch"]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor("nginx's page", () => curl(18090).includes("Welcome to nginx!"));
    assertWorkersAreWwwData(1);
    const log = join(home, "state/volumes/web/var_log_nginx/access.log");
    const lines = () => readFileSync(log, "utf8").split("\n").filter(Boolean).length;
    assert.ok(lines() >= 1, "the request is in the volume's access.log");
    const restart = await sd.railyard([...cfg, "restart", "web"]);
    assert.equal(restart.code, 0, restart.stderr);
    await waitFor("nginx again", () => curl(18090).includes("Welcome to nginx!"));
    const before = lines();
    curl(18090);
    assert.equal(lines(), before + 1, "the log kept its lines across the restart, and grows");
    await leave(cfg);
  });

  test("redis-server from its unit: its user, its directories, and its data across a restart", async () => {
    // The unit's ExecStart (its config binds loopback, so the container shares the host's
    // network, as a redis on the host would listen).
    const { cfg, home } = project({
      kv: { service: "redis-server.service", closure: "packages", network: "host" },
    });
    const r = await sd.railyard([...cfg, "switch"]);
    assert.equal(r.code, 0, r.stderr);
    const cli = (...args: string[]) => sd.exec("redis-cli", ["-p", "6379", ...args]).stdout.trim();
    await waitFor("redis answers", () => cli("PING") === "PONG");
    assert.equal(cli("SET", "greeting", "kept"), "OK");
    assert.equal(cli("SAVE"), "OK");
    // User=redis: the server runs as redis, and its dump is in its volume, owned by it.
    const uid = Number(sd.exec("id", ["-u", "redis"]).stdout.trim());
    const dump = join(home, "state/volumes/kv/var_lib_redis/dump.rdb");
    assert.equal(statSync(dump).uid, uid);
    const restart = await sd.railyard([...cfg, "restart", "kv"]);
    assert.equal(restart.code, 0, restart.stderr);
    await waitFor("redis again", () => cli("PING") === "PONG");
    assert.equal(cli("GET", "greeting"), "kept");
    await leave(cfg);
  });

  test("lighttpd from its unit: it runs its config's perl through /bin/sh, serves a volume, keeps its log", async () => {
    const www = join(dir, "lighttpd-www");
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, "index.html"), "from lighttpd\n");
    const { cfg, home } = project({
      web: {
        service: "lighttpd.service",
        closure: "packages",
        ports: ["127.0.0.1:18092:80"],
        volumes: [`${www}:/var/www/html:ro`],
      },
    });
    const r = await sd.railyard([...cfg, "switch"]);
    assert.equal(r.code, 0, r.stderr);
    await webSays(18092, "from lighttpd\n");
    const log = join(home, "state/volumes/web/var_log_lighttpd/error.log");
    const starts = () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => /server started/.test(l)).length;
    assert.equal(starts(), 1);
    const restart = await sd.railyard([...cfg, "restart", "web"]);
    assert.equal(restart.code, 0, restart.stderr);
    await webSays(18092, "from lighttpd\n");
    assert.equal(starts(), 2, "its log kept the first start");
    // Its root master reaches the cache directories it gave www-data (0750) to check them.
    assert.doesNotMatch(readFileSync(log, "utf8"), /doesn't exist/);
    await leave(cfg);
  });

  test("dnsmasq from the host: it drops root and answers DNS on a published port, again after a restart", async () => {
    const { cfg } = project({
      dns: {
        args: [
          "/usr/sbin/dnsmasq",
          "--keep-in-foreground",
          "--no-resolv",
          "--no-hosts",
          "--address=/nas.home.arpa/192.0.2.7",
        ],
        closure: "packages",
        ports: ["127.0.0.1:35353:53/udp"],
      },
    });
    const r = await sd.railyard([...cfg, "switch"]);
    assert.equal(r.code, 0, r.stderr);
    const ask = () => dnsQuery(35353, "nas.home.arpa");
    await waitFor("dnsmasq answers", () => ask() === "192.0.2.7");
    const user = sd.exec("ps", ["-C", "dnsmasq", "-o", "user="]).stdout.trim();
    // Its compiled-in user (the host's init script names another with -u): root no longer.
    assert.equal(
      user,
      "nobody",
      "it dropped root, with the capabilities the unit's root start implies",
    );
    const restart = await sd.railyard([...cfg, "restart", "dns"]);
    assert.equal(restart.code, 0, restart.stderr);
    await waitFor("dnsmasq answers again", () => ask() === "192.0.2.7");
    await leave(cfg);
  });

  test("postgresql from the host: as the user its state belongs to, the host's cluster in a volume, a row read after a restart", async () => {
    const { cfg, home } = project({
      db: {
        args: [
          "/usr/lib/postgresql/15/bin/postgres",
          "-D",
          "/var/lib/postgresql/15/main",
          "-c",
          "config_file=/etc/postgresql/15/main/postgresql.conf",
        ],
        // No user: its packages keep its state in /var/lib/postgresql, owned by postgres.
        closure: "packages",
      },
    });
    const r = await sd.railyard([...cfg, "switch"]);
    assert.equal(r.code, 0, r.stderr);
    // psql in the container, over the socket in /run/postgresql, as the packages' peer auth allows.
    const ids = sd.exec("id", ["-u", "postgres"]).stdout.trim();
    const gid = sd.exec("id", ["-g", "postgres"]).stdout.trim();
    const sql = (q: string) =>
      sd
        .exec("runc", [
          "exec",
          "--user",
          `${ids}:${gid}`,
          runtimeId(join(home, "state"), "db"),
          "/usr/bin/psql",
          "-tAc",
          q,
        ])
        .stdout.trim();
    await waitFor("postgres answers", () => sql("select 1") === "1");
    sql("create table notes (body text); insert into notes values ('kept')");
    assert.ok(existsSync(join(home, "state/volumes/db/var_lib_postgresql/15/main/PG_VERSION")));
    const restart = await sd.railyard([...cfg, "restart", "db"]);
    assert.equal(restart.code, 0, restart.stderr);
    await waitFor("postgres again", () => sql("select body from notes") === "kept");
    await leave(cfg);
  });
});

describe("an image in a tighter container than it was written for", () => {
  test("dies at once, and railyard run names the cause and the config change", async () => {
    const { cfg } = project({
      // runc's floor instead of podman's set: the entrypoint's chown fails.
      floor: {
        ...pgConfig(join(dir, "pgdata-floor"), 15433),
        ports: [],
        capabilities: {
          CHOWN: false, DAC_OVERRIDE: false, FOWNER: false, FSETID: false, SETFCAP: false,
          SETGID: false, SETPCAP: false, SETUID: false, SYS_CHROOT: false, AUDIT_WRITE: true,
        }, // prettier-ignore
      },
      // A read-only root with no tmpfs: the entrypoint cannot make its cache directory.
      ro: { image: nginxRef, readonly: true },
    });
    await buildOnHost(cfg);
    const floor = await sd.railyard([...cfg, "run", "floor"]);
    assert.equal(floor.code, 1);
    assert.match(
      floor.stderr,
      /chown: changing ownership of '\/var\/lib\/postgresql\/data': Operation not permitted/,
    );
    assert.match(floor.stderr, /floor exited with status 1 after \d+\.\d s/);
    assert.match(
      floor.stderr,
      /hint: changing a file's owner needs CAP_CHOWN.*capabilities: \{ CHOWN: true \}/,
    );
    const ro = await sd.railyard([...cfg, "run", "ro"]);
    assert.equal(ro.code, 1);
    assert.match(
      ro.stderr,
      /hint: the root is read-only \(readonly: true\) and the program writes \/var\/cache\/nginx\. set readonly: false, or add tmpfs: \["\/var\/cache\/nginx"\]/,
    );
  });

  test("under switch, the service that does not stay up is named with its last lines and the hint", async () => {
    const { cfg } = project({
      ro: { image: nginxRef, readonly: true },
      ok: nginxConfig(site("up"), 18082),
    });
    await buildOnHost(cfg);
    const r = await sd.railyard([...cfg, "switch"]);
    assert.equal(r.code, 1, r.stderr);
    // A first switch has nothing to go back to: what failed is stopped, the rest keeps running.
    assert.match(
      r.stdout,
      // How fast it exits decides whether systemd saw its start fail or the service die after.
      /stopped ro: ro (did not stay up for 3 s|failed to start)\. there is no earlier generation/,
    );
    assert.doesNotMatch(r.stdout, /stopped .*ok/, "the healthy one is not named");
    assert.match(
      r.stderr,
      /ro did not stay up\. its last lines:\n(.*\n)*.*\| mkdir: cannot create directory '\/var\/cache\/nginx': Read-only file system/,
    );
    assert.match(
      r.stderr,
      /hint: the root is read-only \(readonly: true\) and the program writes \/var\/cache\/nginx/,
    );
    await webSays(18082, "up\n");
    await leave(cfg);
  });
});

describe("switch under systemd", () => {
  test("both services start, answer, survive a restart with their data, and run as a Docker Hub page says", async () => {
    const data = join(dir, "pgdata-switch");
    const { cfg } = project({
      db: pgConfig(data, 25432),
      web: nginxConfig(site("served under systemd"), 28080),
    });
    await buildOnHost(cfg);
    const r = await sd.railyard([...cfg, "switch"]);
    assert.equal(r.code, 0, r.stderr);
    const journal = (u: string) => () =>
      sd.exec("journalctl", ["-u", u, "--no-pager", "-o", "cat"]).stdout;
    await pgSays(25432, "select 1", "1", journal("railyard-db.service"));
    await webSays(28080, "served under systemd\n", journal("railyard-web.service"));
    assert.equal(psql(25432, "create table t (v text); insert into t values ('kept')").code, 0);

    const before = sd.show("railyard-db.service", "MainPID")["MainPID"];
    const restart = sd.exec("systemctl", [
      "restart",
      "railyard-db.service",
      "railyard-web.service",
    ]);
    assert.equal(restart.code, 0, restart.stderr);
    assert.notEqual(sd.show("railyard-db.service", "MainPID")["MainPID"], before);
    await pgSays(25432, "select v from t", "kept", journal("railyard-db.service"));
    await webSays(28080, "served under systemd\n", journal("railyard-web.service"));
    const inits = journal("railyard-db.service")().match(/entrypoint: initialised/g) ?? [];
    assert.equal(inits.length, 1, "initialised once, then started over its data");
    // The overlay is unmounted with each stop: after stopping, nothing of it stays mounted.
    sd.exec("systemctl", ["stop", "railyard-db.service", "railyard-web.service"]);
    const mounts = sd.exec("cat", ["/proc/self/mountinfo"]).stdout;
    assert.doesNotMatch(mounts, /\/run\/railyard\/rootfs\/railyard-(db|web)/);
    await leave(cfg);
  });

  test("the same images from `import compose` output, as a compose user writes paths (trailing slashes) and networks (two, an alias, IPv6, [::1])", async () => {
    const home = composeHome("compose", "site", "from compose\n");
    writeFileSync(
      join(home, "compose.yaml"),
      `services:
  db:
    image: ${pgRef}
    environment:
      POSTGRES_PASSWORD: secret
    volumes:
      - ./pgdata/:/var/lib/postgresql/data/
    ports:
      - "127.0.0.1:35432:5432"
    networks:
      back:
        aliases: [database]
  web:
    image: ${nginxRef}
    volumes:
      - ./site/:/usr/share/nginx/html/:ro
    ports:
      - "127.0.0.1:38080:80"
      - "[::1]:38080:80"
    networks: [front, back]
    depends_on: [db]
networks:
  front:
    enable_ipv6: true
  back: {}
`,
    );
    const { cfg, file, stderr } = await importCompose(home);
    // Two networks, an alias, IPv6 and a port on [::1] all carry over.
    assert.doesNotMatch(stderr, /networks|aliases|ipv6|::1/i, stderr);
    await buildOnHost(cfg);
    const r = await sd.railyard([...cfg, "switch"]);
    assert.equal(r.code, 0, r.stderr);
    await pgSays(35432, "select 1", "1");
    await webSays(38080, "from compose\n");
    assert.equal(
      sd.exec("curl", ["-sS", "-m", "3", "http://[::1]:38080/"]).stdout,
      "from compose\n",
    );
    // web is on both networks: it finds db by its alias there, over IPv4 (back has no IPv6).
    const hosts = await sd.railyard([...cfg, "exec", "web", "--", "getent", "hosts", "database"]);
    assert.equal(hosts.code, 0, hosts.stderr);
    assert.match(hosts.stdout, /^10\.\d+\.\d+\.\d+\s+db\b.*\bdatabase\b/m);
    assert.ok(readFileSync(file, "utf8").length > 0);
    await leave(cfg);
  });
});

describe("a compose project as the config", () => {
  test("railyard -c compose.yaml switch: its .env (expanded), override file, profiles, shm_size and ulimits, as docker compose up reads them", async () => {
    // Shaped like immich's: a server, a database with shm_size, paths from an .env that uses
    // its own variables, the port in compose.override.yaml, an opt-in service in a profile.
    const home = composeHome("photos", "library/upload", "photos\n");
    writeFileSync(
      join(home, ".env"),
      `BASE=./library\nUPLOAD_LOCATION=$BASE/upload\nDB_DATA_LOCATION=\${BASE}/postgres\nDB_PASSWORD=secret\n`,
    );
    writeFileSync(
      join(home, "compose.yaml"),
      `name: photos
services:
  server:
    image: ${nginxRef}
    volumes:
      - \${UPLOAD_LOCATION}:/usr/share/nginx/html:ro
    depends_on: [database]
  database:
    image: ${pgRef}
    environment:
      POSTGRES_PASSWORD: \${DB_PASSWORD}
    volumes:
      - \${DB_DATA_LOCATION}:/var/lib/postgresql/data
    shm_size: 128mb
    ulimits:
      nofile: { soft: 4096, hard: 8192 }
    ports: ["127.0.0.1:35433:5432"]
  backup:
    image: ${pgRef}
    profiles: [backup]
x-railyard:
  registries: { "${registry.host}": { insecure: true } }
`,
    );
    writeFileSync(
      join(home, "compose.override.yaml"),
      `services:\n  server:\n    ports: ["127.0.0.1:38081:80"]\n`,
    );
    const cfg = ["-c", join(home, "compose.yaml"), "--state-dir", join(home, "state")];
    await buildOnHost(cfg);
    const r = await sd.railyard([...cfg, "switch"]);
    assert.equal(r.code, 0, r.stderr);
    // The note about the service left out is said, as the import says it.
    assert.match(r.stderr, /services\.backup: in the profile backup, which is not active/);
    await pgSays(35433, "select 1", "1");
    await webSays(38081, "photos\n");
    // The database's files are where the .env's expanded path puts them.
    assert.ok(existsSync(join(home, "library/postgres/PG_VERSION")));
    const shm = await sd.railyard([...cfg, "exec", "database", "--", "df", "-k", "/dev/shm"]);
    assert.match(shm.stdout, /\s131072\s/, shm.stdout + shm.stderr);
    // A process started in the container gets the limits (PostgreSQL raises its own soft one).
    const limits = await sd.railyard([
      ...cfg,
      "exec",
      "database",
      "--",
      "sh",
      "-c",
      "ulimit -Sn; ulimit -Hn",
    ]);
    assert.equal(limits.stdout, "4096\n8192\n", limits.stderr);
    const status = await sd.railyard([...cfg, "--json", "status"]);
    assert.doesNotMatch(status.stdout, /backup/);
    await leave(cfg);
  });

  test("plausible-shaped: a ulimit above the host's gets the host's, said at the switch, and the database still starts", async () => {
    // plausible's ClickHouse asks for 262144 open files; a host may allow fewer.
    const hostNofile = Number(
      /^Max open files\s+\S+\s+(\d+)/m.exec(sd.exec("cat", ["/proc/self/limits"]).stdout)?.[1],
    );
    const want = hostNofile + 1;
    const home = composeHome("analytics", "site", "analytics\n");
    const { cfg, stderr } = await switchCompose(
      home,
      `services:
  events_db:
    image: ${pgRef}
    environment: { POSTGRES_PASSWORD: secret }
    volumes: ["./event-data:/var/lib/postgresql/data"]
    ports: ["127.0.0.1:35435:5432"]
    ulimits:
      nofile:
        soft: ${want}
        hard: ${want}
`,
    );
    assert.match(
      stderr,
      new RegExp(
        `containers\\.events_db\\.ulimits\\.nofile: ${want} is above this host's hard limit; the container gets ${hostNofile}`,
      ),
    );
    await pgSays(35435, "select 1", "1");
    const limits = await sd.railyard([...cfg, "exec", "events_db", "--", "sh", "-c", "ulimit -Hn"]);
    assert.equal(limits.stdout, `${hostNofile}\n`, limits.stderr);
    await leave(cfg);
  });

  test("home-assistant-shaped: the host's network and /run/dbus, privileged left out with its reason, and it serves", async () => {
    const home = composeHome("hass", "config", "home\n");
    const { cfg, stderr } = await switchCompose(
      home,
      `services:
  homeassistant:
    container_name: homeassistant
    image: ${nginxRef}
    volumes:
      - ./config:/usr/share/nginx/html:ro
      - /etc/localtime:/etc/localtime:ro
      - /run/dbus:/run/dbus:ro
    restart: unless-stopped
    privileged: true
    network_mode: host
    environment:
      TZ: Europe/Amsterdam
`,
    );
    assert.match(
      stderr,
      /services\.homeassistant\.privileged: is not imported; railyard does not turn off every confinement at once/,
    );
    // On the host's network: its port 80 is the container's, with no ports key.
    await webSays(80, "home\n");
    await leave(cfg);
  });

  test("COMPOSE_FILE in .env names three files, merged, with a separator of its own, as seafile's project is", async () => {
    // Shaped like seafile's: the server, its database and the web front each in a file of its
    // own, listed in .env with COMPOSE_PATH_SEPARATOR=',', and a data path built in .env.
    const home = composeHome("files", "data/web", "files\n");
    writeFileSync(
      join(home, ".env"),
      [
        "COMPOSE_FILE='server.yml,db.yml,web.yml'",
        "COMPOSE_PATH_SEPARATOR=','",
        "STORAGE=./data",
        "DB_VOLUME=$STORAGE/db",
        "DB_PASSWORD=secret",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(home, "server.yml"),
      `services:\n  db:\n    image: ${pgRef}\n    environment:\n      POSTGRES_PASSWORD: \${DB_PASSWORD:?set it in .env}\nx-railyard:\n  registries: { "${registry.host}": { insecure: true } }\n`,
    );
    writeFileSync(
      join(home, "db.yml"),
      `services:\n  db:\n    volumes: ["\${DB_VOLUME}:/var/lib/postgresql/data"]\n    ports: ["127.0.0.1:35434:5432"]\n`,
    );
    writeFileSync(
      join(home, "web.yml"),
      `services:\n  web:\n    image: ${nginxRef}\n    volumes: ["\${STORAGE}/web:/usr/share/nginx/html:ro"]\n    ports: ["127.0.0.1:38082:80"]\n    depends_on: [db]\n`,
    );
    // compose.yaml is how a user names the project (seafile's is a link to its server file).
    symlinkSync("server.yml", join(home, "compose.yaml"));
    const cfg = ["-c", join(home, "compose.yaml"), "--state-dir", join(home, "state")];
    await buildOnHost(cfg);
    const r = await sd.railyard([...cfg, "switch"]);
    assert.equal(r.code, 0, r.stderr);
    await pgSays(35434, "select 1", "1");
    await webSays(38082, "files\n");
    assert.ok(existsSync(join(home, "data/db/PG_VERSION")));
    await leave(cfg);
  });
});

describe("a compose project with its own Dockerfile", () => {
  test("imports, builds with buildah, answers; an unchanged context runs no builder; a changed file rebuilds and restarts only that service", async () => {
    const home = join(dir, "built");
    mkdirSync(join(home, "app"), { recursive: true });
    // A Debian base from a local OCI layout (the nginx-like image), a COPY and a RUN.
    const base = debianImage("nginx-like", NGINX_LIKE);
    writeFileSync(
      join(home, "app/Dockerfile"),
      `FROM oci:${base}:v1\nARG GREETING\nCOPY index.html /usr/share/nginx/html/index.html\n` +
        `RUN echo "$GREETING from RUN" > /usr/share/nginx/html/run.txt\n`,
    );
    writeFileSync(join(home, "app/index.html"), "built page v1\n");
    writeFileSync(join(home, "app/.dockerignore"), "*.log\n");
    writeFileSync(
      join(home, "compose.yaml"),
      `services:
  app:
    build:
      context: ./app
      args:
        GREETING: hello
    ports:
      - "127.0.0.1:46080:80"
  db:
    image: ${pgRef}
    environment:
      POSTGRES_PASSWORD: secret
    ports:
      - "127.0.0.1:46432:5432"
`,
    );
    const { cfg, file, stderr } = await importCompose(home);
    assert.doesNotMatch(stderr, /build/, stderr);
    // Compose's project name (the directory's, here) prefixes the units, as compose's containers.
    assert.equal((JSON.parse(readFileSync(file, "utf8")) as { project?: string }).project, "built");
    type Event = { kind: string; rebuilt?: boolean; same?: boolean; builder?: string };
    const events = async (): Promise<Event[]> => {
      const r = await railyard([...cfg, "--json", "build"], { timeoutMs: 300_000 });
      assert.equal(r.code, 0, r.stderr);
      return r.stderr
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Event);
    };
    const first = await events();
    assert.equal(first.find((e) => e.kind === "build")?.builder, "buildah");
    assert.ok(
      first.some((e) => e.kind === "build-output"),
      "the builder's output is passed on",
    );
    assert.equal(first.find((e) => e.kind === "built")?.rebuilt, true);
    const lock = readFileSync(join(home, "railyard.lock"), "utf8");
    assert.match(
      lock,
      /"localhost\/app:latest": \{\s+"digest": "sha256:[0-9a-f]{64}",\s+"context": "sha256:/,
    );

    const r = await sd.railyard([...cfg, "switch"]);
    assert.equal(r.code, 0, r.stderr);
    await webSays(46080, "built page v1\n");
    assert.equal(
      sd.exec("curl", ["-sS", "-m", "3", "http://127.0.0.1:46080/run.txt"]).stdout,
      "hello from RUN\n",
    );
    await pgSays(46432, "select 1", "1");

    // Nothing changed (an ignored file does not count): no builder runs.
    writeFileSync(join(home, "app/debug.log"), "noise\n");
    const again = await events();
    assert.deepEqual(
      again.filter((e) => e.kind !== "resolved" && e.kind !== "layer" && e.kind !== "done"),
      [again.find((e) => e.kind === "built")],
    );
    assert.equal(again.find((e) => e.kind === "built")?.rebuilt, false);

    // A changed file: rebuilt, and the switch restarts app alone.
    const db = sd.show("railyard-built-db.service", "MainPID")["MainPID"];
    const app = sd.show("railyard-built-app.service", "MainPID")["MainPID"];
    writeFileSync(join(home, "app/index.html"), "built page v2\n");
    assert.equal((await events()).find((e) => e.kind === "built")?.rebuilt, true);
    const plan = await sd.railyard([...cfg, "switch", "--dry-run"]);
    assert.match(plan.stdout, /^ {2}restart {4}app\n {2}unchanged {2}db$/m, plan.stdout);
    assert.match(plan.stdout, /^ {4}digest +sha256:[0-9a-f]{12} → sha256:[0-9a-f]{12}$/m);
    const r2 = await sd.railyard([...cfg, "switch"]);
    assert.equal(r2.code, 0, r2.stderr);
    await webSays(46080, "built page v2\n");
    assert.equal(sd.show("railyard-built-db.service", "MainPID")["MainPID"], db, "db kept running");
    assert.notEqual(sd.show("railyard-built-app.service", "MainPID")["MainPID"], app);
    // Changed back: every step is in the builder's cache, and the build still gives an image.
    writeFileSync(join(home, "app/index.html"), "built page v1\n");
    assert.equal((await events()).find((e) => e.kind === "built")?.rebuilt, true);
    // A change that changes nothing the container runs (a comment): built, and the image kept.
    const digest = () =>
      /"localhost\/app:latest": \{\s+"digest": "(sha256:[0-9a-f]+)"/.exec(
        readFileSync(join(home, "railyard.lock"), "utf8"),
      )?.[1];
    const kept = digest();
    writeFileSync(
      join(home, "app/Dockerfile"),
      `${readFileSync(join(home, "app/Dockerfile"), "utf8")}# a note\n`,
    );
    const same = (await events()).find((e) => e.kind === "built");
    assert.deepEqual([same?.rebuilt, same?.same], [true, true]);
    assert.equal(digest(), kept);
    await leave(cfg);
  });

  test("a git repository as the context (compose's remote build): fetched once, built, and fetched again only by an update", async () => {
    // A repository served by git's own daemon on loopback, as a forge serves one.
    const home = join(dir, "git-context");
    const src = join(home, "src");
    const served = join(home, "served");
    mkdirSync(join(src, "web"), { recursive: true });
    mkdirSync(served, { recursive: true });
    const base = debianImage("nginx-like", NGINX_LIKE);
    const git = (cwd: string, ...args: string[]) => {
      const r = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
        cwd,
        encoding: "utf8",
      });
      assert.equal(r.status, 0, `git ${args.join(" ")}: ${r.stderr}`);
    };
    const page = (text: string) => {
      writeFileSync(join(src, "web/index.html"), text);
      git(src, "add", "-A");
      git(src, "commit", "-q", "-m", text);
      git(src, "push", "-q", join(served, "site.git"), "HEAD:main");
    };
    writeFileSync(
      join(src, "web/Dockerfile"),
      `FROM oci:${base}:v1\nCOPY . /usr/share/nginx/html/\n`,
    );
    git(src, "init", "-q", "-b", "main");
    git(served, "init", "-q", "--bare", "site.git");
    page("from git v1\n");
    const port = 49418;
    const daemon = spawn(
      "git",
      [
        "daemon",
        "--reuseaddr",
        "--export-all",
        `--base-path=${served}`,
        "--listen=127.0.0.1",
        `--port=${port}`,
        served,
      ],
      { stdio: "ignore" },
    );
    try {
      await waitFor(
        "git daemon",
        () => spawnSync("git", ["ls-remote", `git://127.0.0.1:${port}/site.git`]).status === 0,
      );
      writeFileSync(
        join(home, "compose.yaml"),
        `services:\n  site:\n    build: git://127.0.0.1:${port}/site.git#main:web\n    ports: ["127.0.0.1:46180:80"]\n`,
      );
      const cfg = ["-c", join(home, "compose.yaml"), "--state-dir", join(home, "state")];
      await buildOnHost(cfg);
      const r = await sd.railyard([...cfg, "switch"]);
      assert.equal(r.code, 0, r.stderr);
      await webSays(46180, "from git v1\n");
      // The context is the checkout without its .git, as docker's builder gives it.
      assert.match(
        sd.exec("curl", [
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          "http://127.0.0.1:46180/.git/HEAD",
        ]).stdout,
        /404/,
      );
      // A new commit upstream: a build keeps the checkout it has (no fetch, nothing rebuilt)...
      page("from git v2\n");
      const again = await railyard([...cfg, "--json", "build"], { timeoutMs: 300_000 });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /"kind":"built"[^\n]*"rebuilt":false/);
      // ...and an update fetches it, builds it, and the switch serves it.
      const update = await railyard([...cfg, "lock", "--update"], { timeoutMs: 300_000 });
      assert.equal(update.code, 0, update.stderr);
      assert.match(update.stdout, /updated/);
      const r2 = await sd.railyard([...cfg, "switch"]);
      assert.equal(r2.code, 0, r2.stderr);
      await webSays(46180, "from git v2\n");
      // One checkout is kept: the commit the lock's image was built from.
      const kept = readdirSync(join(home, "state/build-git/site")).filter((n) =>
        n.startsWith("tree-"),
      );
      assert.equal(kept.length, 1);
      await leave(cfg);
      // Built from a directory now: gc takes the checkout it no longer needs.
      writeFileSync(join(home, "compose.yaml"), `services:\n  site:\n    build: ./src/web\n`);
      const gc = await railyard([...cfg, "--json", "gc"]);
      assert.equal(gc.code, 0, gc.stderr);
      assert.deepEqual((JSON.parse(gc.stdout) as { gitCheckouts: string[] }).gitCheckouts, [
        "site",
      ]);
      assert.ok(!existsSync(join(home, "state/build-git/site")));
    } finally {
      daemon.kill();
    }
  });

  test("build: . beside the config, its lock and its state: nothing changed, nothing rebuilt, and the builder never sees them", async () => {
    // The usual layout: compose.yaml, the railyard config, railyard.lock and the state dir all
    // live in the context. Each build rewrites the lock and the state, which must not count.
    const home = join(dir, "dot-context");
    mkdirSync(home, { recursive: true });
    const base = debianImage("nginx-like", NGINX_LIKE);
    writeFileSync(
      join(home, "Dockerfile"),
      `FROM oci:${base}:v1\nCOPY . /ctx\nCMD ["ls", "-A", "/ctx"]\n`,
    );
    writeFileSync(join(home, "compose.yaml"), "services:\n  app:\n    build: .\n");
    const { cfg } = await importCompose(home);
    const build = async () => {
      const r = await railyard([...cfg, "--json", "build"], { timeoutMs: 300_000 });
      assert.equal(r.code, 0, r.stderr);
      return r.stderr.includes('"kind":"build"');
    };
    assert.equal(await build(), true, "the first build runs the builder");
    assert.ok(existsSync(join(home, "railyard.lock")) && existsSync(join(home, "state")));
    assert.equal(await build(), false, "nothing changed: no builder");
    assert.equal(await build(), false, "and again");
    // What the builder saw is what was hashed: the project's files, none of railyard's own.
    const ls = await sd.railyard([...cfg, "run", "app"]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual(ls.stdout.trim().split("\n").sort(), [
      "Dockerfile",
      "compose.yaml",
      "railyard.config.json",
    ]);
    // A file of the project's own still rebuilds.
    writeFileSync(join(home, "notes.txt"), "new\n");
    assert.equal(await build(), true);
  });

  test("a RUN that fails: the build fails with the builder's last lines, and the lock keeps the last good image", async () => {
    const home = join(dir, "broken-build");
    mkdirSync(join(home, "app"), { recursive: true });
    const base = debianImage("nginx-like", NGINX_LIKE);
    const dockerfile = (run: string) =>
      writeFileSync(join(home, "app/Dockerfile"), `FROM oci:${base}:v1\nRUN ${run}\n`);
    dockerfile("echo fine > /fine");
    const { cfg, home: proj } = project({ app: { build: join(home, "app") } });
    const good = await railyard([...cfg, "build"], { timeoutMs: 300_000 });
    assert.equal(good.code, 0, good.stderr);
    const lock = readFileSync(join(proj, "railyard.lock"), "utf8");
    dockerfile("echo about to fail; exit 3");
    const bad = await railyard([...cfg, "build"], { timeoutMs: 300_000 });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /containers\.app\.build: buildah build failed \(exit \d+\):/);
    assert.match(bad.stderr, /about to fail/);
    assert.equal(readFileSync(join(proj, "railyard.lock"), "utf8"), lock);
    // The container goes: gc takes its build layout with it.
    assert.ok(existsSync(join(proj, "state/build/app/index.json")));
    const file = cfg[1] ?? "";
    writeFileSync(
      file,
      JSON.stringify({ ...(JSON.parse(readFileSync(file, "utf8")) as object), containers: {} }),
    );
    const gc = await railyard([...cfg, "--json", "gc"]);
    assert.equal(gc.code, 0, gc.stderr);
    assert.deepEqual((JSON.parse(gc.stdout) as { buildLayouts: string[] }).buildLayouts, ["app"]);
    assert.ok(!existsSync(join(proj, "state/build/app")));
  });
});

describe("secrets", () => {
  test("postgres reads POSTGRES_PASSWORD_FILE from /run/secrets, the value is nowhere on disk or in systemd, and a rotation restarts only db", async () => {
    const secretsDir = join(dir, "host-secrets");
    mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
    const pwFile = join(secretsDir, "db-password");
    writeFileSync(pwFile, "pw-first-Zq81xK", { mode: 0o600 });
    // An encrypted credential, made as its docs say, for the other service.
    writeFileSync(join(secretsDir, "token.txt"), "token-value-Hm42", { mode: 0o600 });
    const enc = sd.exec("systemd-creds", [
      "encrypt",
      "--name=api-token",
      join(secretsDir, "token.txt"),
      join(secretsDir, "api-token.cred"),
    ]);
    assert.equal(enc.code, 0, enc.stderr);
    writeFileSync(join(secretsDir, "web.env"), "WEB_TOKEN=webenv-Gh73\n", { mode: 0o600 });
    const data = join(dir, "pgdata-secrets");
    const { cfg, home } = project(
      {
        db: {
          ...pgConfig(data, 45432),
          environment: { POSTGRES_PASSWORD_FILE: "/run/secrets/db-password" },
          secrets: ["db-password"],
        },
        web: {
          ...nginxConfig(site("with a token"), 48080),
          secrets: [{ source: "api-token", target: "token", uid: 33, mode: "0400" }],
          // An image with a writable (overlay) root reads its env file at start too.
          environmentFiles: [join(secretsDir, "web.env")],
        },
      },
      {
        secrets: {
          "db-password": { file: pwFile },
          "api-token": { encrypted: join(secretsDir, "api-token.cred") },
        },
      },
    );
    await buildOnHost(cfg);
    const r = await sd.railyard([...cfg, "switch"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const login = (pw: string) => psql(45432, "select 7", pw);
    await waitFor(
      "a login with the secret",
      () => login("pw-first-Zq81xK").stdout.trim() === "7",
      120_000,
      () => sd.exec("journalctl", ["-u", "railyard-db.service", "--no-pager", "-o", "cat"]).stdout,
    );

    const state = join(home, "state");
    const inside = (name: string, ...args: string[]) =>
      sd.exec("runc", ["exec", runtimeId(state, name), ...args]).stdout.trim();
    assert.equal(inside("db", "stat", "-c", "%u %g %a", "/run/secrets/db-password"), "0 0 444");
    assert.equal(inside("web", "stat", "-c", "%u %g %a", "/run/secrets/token"), "33 0 400");
    assert.equal(inside("web", "cat", "/run/secrets/token"), "token-value-Hm42");
    const copies = sd.exec("stat", [
      "-c",
      "%a %U",
      `/run/railyard/secrets/${runtimeId(state, "db")}`,
    ]);
    assert.equal(copies.stdout.trim(), "700 root", "the copies' directory is root's alone");

    // (nginx writes its title over its own environ, so ask the container: exec gets its env.)
    assert.equal(inside("web", "printenv", "WEB_TOKEN"), "webenv-Gh73", "the env file's value");

    // Nowhere railyard writes, nowhere systemd shows, nothing the journal keeps.
    const values = /pw-first-Zq81xK|token-value-Hm42|webenv-Gh73/;
    const grep = (path: string) => sd.exec("grep", ["-rlE", values.source, path]).stdout.trim();
    assert.equal(grep(state), "", "no file under the state dir holds a value");
    assert.equal(grep(home), "", "nor beside the config (lock, cache)");
    assert.equal(grep("/etc/systemd/system"), "", "nor a unit file");
    for (const u of ["railyard-db.service", "railyard-web.service"])
      assert.doesNotMatch(sd.exec("systemctl", ["show", u]).stdout, values, u);
    assert.doesNotMatch(sd.exec("journalctl", ["--no-pager", "-o", "verbose"]).stdout, values);

    // Rotated: only db restarts, and the new password logs in (over a fresh data dir, since
    // postgres takes the password at initdb).
    const webPid = sd.show("railyard-web.service", "MainPID")["MainPID"];
    sd.exec("systemctl", ["stop", "railyard-db.service"]);
    sd.exec("sh", ["-c", `rm -rf ${data}/* ${data}/.[!.]*`]);
    writeFileSync(pwFile, "pw-second-Lr03tY", { mode: 0o600 });
    const rot = await sd.railyard([...cfg, "switch"]);
    assert.equal(rot.code, 0, rot.stdout + rot.stderr);
    assert.match(rot.stdout, /^ {2}restart {4}db$/m);
    assert.match(rot.stdout, /^ {2}unchanged {2}web$/m);
    assert.equal(sd.show("railyard-web.service", "MainPID")["MainPID"], webPid);
    await waitFor(
      "a login with the rotated secret",
      () => login("pw-second-Lr03tY").stdout.trim() === "7",
      120_000,
    );
    assert.notEqual(login("pw-first-Zq81xK").stdout.trim(), "7");
    assert.equal(sd.exec("grep", ["-rl", "pw-second-Lr03tY", state]).stdout.trim(), "");

    // A secret file that went missing: check and switch say which, exit 2, change nothing.
    const gone = join(secretsDir, "db-password");
    const saved = readFileSync(gone);
    sd.exec("rm", [gone]);
    const chk = await sd.railyard([...cfg, "check"]);
    assert.equal(chk.code, 2);
    assert.match(chk.stderr, /secrets\.db-password\.file: .*db-password does not exist/);
    const sw = await sd.railyard([...cfg, "switch"]);
    assert.equal(sw.code, 2);
    writeFileSync(gone, saved, { mode: 0o600 });
    await leave(cfg);
  });

  test("a compose file with secrets, as on the postgres Docker Hub page, runs unmodified after import", async () => {
    const home = join(dir, "compose-secrets");
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, "postgres_password.txt"), "pw-compose-Tc77", { mode: 0o600 });
    writeFileSync(
      join(home, "compose.yaml"),
      `services:
  db:
    image: ${pgRef}
    environment:
      POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password
    secrets:
      - postgres_password
    volumes:
      - ./pgdata/:/var/lib/postgresql/data/
    ports:
      - "127.0.0.1:55432:5432"
secrets:
  postgres_password:
    file: ./postgres_password.txt
`,
    );
    const { cfg, stderr } = await importCompose(home);
    assert.doesNotMatch(stderr, /secrets/, "nothing about secrets is dropped");
    await buildOnHost(cfg);
    const r = await sd.railyard([...cfg, "switch"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await waitFor(
      "a login with the compose secret",
      () => psql(55432, "select 5", "pw-compose-Tc77").stdout.trim() === "5",
      120_000,
    );
    await leave(cfg);
  });
});
