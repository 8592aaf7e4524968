/**
 * End-to-end: the real `railyard` binary builds bundles and runs them under the real runc.
 * Each test writes a config, runs the CLI and checks what a user would see.
 */
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { runtimeId } from "../helpers/ids.js";
import { after, before, describe, test } from "node:test";
import { railyard, scratchDir, signalWhenReady } from "../helpers/cli.js";
import { REPO_ROOT } from "../helpers/paths.js";
import { execFileSync } from "node:child_process";
import { ociValidator } from "../helpers/oci-schema.js";

const { dir, cleanup } = scratchDir();
after(cleanup);
const state = join(dir, "state");

/** Write a JSON config with the given containers and return the flags that select it. */
function config(
  name: string,
  containers: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): string[] {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ stateDir: state, containers, ...extra }, null, 2));
  return ["--config", file];
}

test("--version names the version and the commit the bundle was built from", async () => {
  const r = await railyard(["--version"]);
  assert.equal(r.code, 0, r.stderr);
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
    version: string;
  };
  const head = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  }).trim();
  // The bundle is built from this checkout; "-dirty" while it has uncommitted changes.
  assert.match(r.stdout, new RegExp(`^railyard ${pkg.version} \\(commit ${head}(-dirty)?\\)\\n$`));
});

describe("railyard run under runc", () => {
  before(() => {
    assert.ok(
      existsSync("/bin/busybox"),
      "busybox-static must be installed (apt-get install busybox-static)",
    );
  });

  test("busybox echo hi prints hi, and the exit code is the container's", async () => {
    const cfg = config("echo", {
      hi: { args: ["/bin/busybox", "echo", "hi"] },
      seven: { args: ["/bin/busybox", "sh", "-c", "exit 7"] },
    });
    const r = await railyard([...cfg, "run", "hi"]);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, "hi\n");
    assert.equal(r.code, 0);
    assert.equal((await railyard([...cfg, "run", "seven"])).code, 7);
  });

  test("shmSize sizes /dev/shm and ulimits set the limits, never above the host's, said when lowered", async () => {
    const hostNofile = Number(
      /^Max open files\s+\S+\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1],
    );
    const cfg = config("limits", {
      db: {
        args: [
          "/bin/busybox",
          "sh",
          "-c",
          "df -k /dev/shm | tail -1; ulimit -Sn; ulimit -Hn; ulimit -Hc",
        ],
        shmSize: "256m",
        ulimits: { nofile: { soft: 4096, hard: hostNofile + 1000 }, core: "unlimited" },
      },
    });
    const r = await railyard([...cfg, "run", "db"]);
    assert.equal(r.code, 0, r.stderr);
    const [df, soft, hard, core] = r.stdout.trim().split("\n");
    assert.match(df ?? "", /^shm\s+262144\s/);
    assert.equal(soft, "4096");
    assert.equal(hard, String(hostNofile));
    assert.equal(core, "unlimited");
    assert.match(
      r.stderr,
      new RegExp(
        `containers\\.db\\.ulimits\\.nofile: ${hostNofile + 1000} is above this host's hard limit; the container gets ${hostNofile}`,
      ),
    );
  });

  test("a device directory gives the container every node below it, as docker's --device /dev/dri does", async () => {
    // A directory of the host's /dev made for the test: card0 is /dev/null's node, renderD128 /dev/zero's.
    const devDir = `/dev/railyard-test-dri-${process.pid}`;
    mkdirSync(join(devDir, "by-id"), { recursive: true });
    try {
      execFileSync("mknod", [join(devDir, "card0"), "c", "1", "3"]);
      execFileSync("mknod", [join(devDir, "by-id", "renderD128"), "c", "1", "5"]);
      const cfg = config("devdir", {
        gpu: {
          args: [
            "/bin/busybox",
            "sh",
            "-c",
            "echo x > /dev/dri/card0 && head -c 4 /dev/dri/by-id/renderD128 | wc -c",
          ],
          devices: [`${devDir}:/dev/dri`],
        },
      });
      const r = await railyard([...cfg, "run", "gpu"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "4");
    } finally {
      rmSync(devDir, { recursive: true, force: true });
    }
  });

  test("a #!/bin/sh script runs, with only its closure in the rootfs", async () => {
    const script = join(dir, "greet.sh");
    writeFileSync(script, '#!/bin/sh\necho "script says $1"\n');
    chmodSync(script, 0o755);
    const cfg = config("script", { greet: { args: [script, "hello"] } });
    const r = await railyard([...cfg, "run", "greet"]);
    assert.equal(r.stdout, "script says hello\n", r.stderr);
    assert.equal(r.code, 0);
    const root = join(state, "bundles/greet/rootfs");
    assert.deepEqual(
      readdirSync(root)
        .sort()
        .filter((n) => !["bin", "lib", "lib64", "usr", "var"].includes(n)),
      ["dev", "etc", "proc", "root", "sys"],
    );
  });

  test('python3 runs with closure: "packages"', async () => {
    const cfg = config("py", {
      py: {
        args: [
          "/usr/bin/python3",
          "-c",
          "import json, os; print(json.dumps({'answer': 42, 'uid': os.getuid()}))",
        ],
        closure: "packages",
      },
    });
    const r = await railyard([...cfg, "run", "py"]);
    assert.equal(r.stdout, '{"answer": 42, "uid": 0}\n', r.stderr);
  });

  test("user 2000:100: id -u and id -g print 2000 and 100", async () => {
    const cfg = config("user", {
      who: { args: ["/bin/busybox", "sh", "-c", "id -u; id -g"], user: "2000:100" },
    });
    const r = await railyard([...cfg, "run", "who"]);
    assert.equal(r.stdout, "2000\n100\n", r.stderr);
  });

  test("the root is read-only; a volume is writable and lands on the host; a :ro volume is read-only", async () => {
    const data = join(dir, "vol/data");
    const conf = join(dir, "vol/conf");
    mkdirSync(conf, { recursive: true });
    writeFileSync(join(conf, "settings"), "sync_dir = /data\n");
    const cfg = config("vol", {
      sync: {
        args: [
          "/bin/busybox",
          "sh",
          "-c",
          "touch /rootfile 2>/dev/null && echo root:writable || echo root:readonly; " +
            "echo synced > /data/file && echo data:written; " +
            "cat /conf/settings; touch /conf/x 2>/dev/null && echo conf:writable || echo conf:readonly",
        ],
        user: "2000:100",
        volumes: [`${data}:/data`, `${conf}:/conf:ro`],
      },
    });
    const r = await railyard([...cfg, "run", "sync"]);
    assert.equal(
      r.stdout,
      "root:readonly\ndata:written\nsync_dir = /data\nconf:readonly\n",
      r.stderr,
    );
    assert.equal(readFileSync(join(data, "file"), "utf8"), "synced\n");
    const st = statSync(join(data, "file"));
    assert.deepEqual(
      [st.uid, st.gid],
      [2000, 100],
      "the file is owned by the container's user on the host",
    );
    assert.ok(!existsSync(join(conf, "x")));
  });

  test("-t gives the container a terminal whose input reaches it (the interactive first run)", async () => {
    const cfg = config("tty", {
      login: {
        args: [
          "/bin/busybox",
          "sh",
          "-c",
          'test -t 0 && echo "stdin is a tty"; read -r token; echo "got token: $token"',
        ],
      },
    });
    // `script` gives railyard a real pseudo-terminal, as a user's shell would.
    const cmd = ["node", join(process.cwd(), "bin/railyard.cjs"), ...cfg, "run", "-t", "login"]
      .map((a) => `'${a}'`)
      .join(" ");
    const { spawnSync } = await import("node:child_process");
    const r = spawnSync("script", ["-qec", cmd, "/dev/null"], {
      input: "s3cr3t\n",
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.match(r.stdout, /stdin is a tty/);
    assert.match(r.stdout, /got token: s3cr3t/);
    assert.equal(r.status, 0);
  });

  test("seccomp: the default filter refuses a user namespace; unconfined allows it; a profile file applies", async () => {
    const unshare = ["/bin/busybox", "unshare", "-U", "/bin/busybox", "id", "-u"];
    // Without CAP_SYS_ADMIN the kernel still lets root create a user namespace: the filter must stop it.
    const denied = await railyard([...config("sc-default", { u: { args: unshare } }), "run", "u"]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /unshare\(0x10000000\): Operation not permitted/);
    const open = await railyard([
      ...config("sc-open", { u: { args: unshare, seccomp: "unconfined" } }),
      "run",
      "u",
    ]);
    assert.equal(open.code, 0, open.stderr);
    assert.equal(open.stdout, "65534\n");
    const profile = join(dir, "no-kill.json");
    writeFileSync(
      profile,
      JSON.stringify({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["kill"], action: "SCMP_ACT_ERRNO", errnoRet: 13 }],
      }),
    );
    const own = await railyard([
      ...config("sc-own", { u: { args: ["/bin/busybox", "kill", "-0", "1"], seccomp: profile } }),
      "run",
      "u",
    ]);
    assert.equal(own.code, 1);
    assert.match(own.stderr, /can't kill pid 1: Permission denied/, "EACCES, as the profile says");
    const bad = join(dir, "bad-profile.json");
    writeFileSync(bad, JSON.stringify({ syscalls: [] }));
    const refused = await railyard([
      ...config("sc-bad", { u: { args: ["/bin/busybox", "true"], seccomp: bad } }),
      "run",
      "u",
    ]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /containers\.u\.seccomp: .*bad-profile\.json: not a seccomp profile/,
    );
  });

  test("extra arguments after -- are appended to args", async () => {
    const cfg = config("extra", { e: { args: ["/bin/busybox", "echo", "a"] } });
    const r = await railyard([...cfg, "run", "e", "--", "b", "--c"]);
    assert.equal(r.stdout, "a b --c\n", r.stderr);
  });

  test("SIGTERM stops a container that ignores it (stopSignal, then SIGKILL) and cleans up runc state", async () => {
    const cfg = config("stop", {
      sleeper: { args: ["/bin/busybox", "sh", "-c", "echo up; exec sleep 300"], stopTimeout: 1 },
    });
    const { code, ms: took } = await signalWhenReady([...cfg, "run", "sleeper"], "up", "SIGTERM");
    assert.equal(code, 137, "PID 1 ignores SIGTERM, so SIGKILL ends it: 128 + 9");
    assert.ok(took >= 900 && took < 10_000, `stopped after stopTimeout, took ${took} ms`);
    assert.ok(!existsSync(`/run/runc/${runtimeId(state, "sleeper")}`), "runc state is gone");
  });

  test("init: true puts tini in front: the same program then stops at once on SIGTERM, and zombies are reaped", async () => {
    const cfg = config("init", {
      sleeper: {
        args: [
          "/bin/busybox",
          "sh",
          "-c",
          "echo up; cat /proc/1/comm; exec /bin/busybox sleep 300",
        ],
        init: true,
        stopTimeout: 30,
      },
      reaper: {
        // An orphan that exits becomes PID 1's child: tini reaps it, so no zombie stays.
        args: [
          "/bin/busybox",
          "sh",
          "-c",
          "(/bin/busybox sleep 0.2 &) ; /bin/busybox sleep 1; /bin/busybox ps -o stat,comm | /bin/busybox grep -c '^Z' || true",
        ],
        init: true,
      },
    });
    const {
      code,
      ms: took,
      stdout,
    } = await signalWhenReady([...cfg, "run", "sleeper"], "up", "SIGTERM");
    assert.match(stdout, /up\nrailyard-init\n/, "PID 1 is the init");
    assert.equal(code, 143, "the program died of the SIGTERM tini passed on: 128 + 15");
    assert.ok(took < 5_000, `stopped at once, not after stopTimeout: ${took} ms`);
    const reaped = await railyard([...cfg, "run", "reaper"]);
    assert.equal(reaped.stdout.trim(), "0", reaped.stderr);
  });

  test("Ctrl-C (SIGINT) sends the stopSignal: a program that handles it exits at once with its own status", async () => {
    const cfg = config("trap", {
      trapper: {
        args: [
          "/bin/busybox",
          "sh",
          "-c",
          "trap 'echo bye; exit 3' TERM; echo up; while :; do sleep 0.1; done",
        ],
      },
    });
    const { code, stdout: out } = await signalWhenReady([...cfg, "run", "trapper"], "up", "SIGINT");
    assert.equal(code, 3);
    assert.match(out, /bye/);
  });
});

describe("railyard build", () => {
  const validate = ociValidator("runtime-spec", "config-schema.json");

  test("writes a schema-valid, byte-stable bundle and skips the rebuild when nothing changed", async () => {
    const cfg = config("build", {
      web: {
        args: ["/usr/bin/python3", "-c", "print(1)"],
        user: "2000:100",
        volumes: [`${dir}/web:/srv`],
        environment: { A: "1" },
      },
      hello: { args: ["/bin/busybox", "echo", "hi"], network: "host" },
    });
    const first = await railyard([...cfg, "build", "--json"]);
    assert.equal(first.code, 0, first.stderr);
    const built = JSON.parse(first.stdout) as {
      generation: number;
      created: boolean;
      bundles: { container: string; bundle: string; changed: boolean }[];
    };
    assert.deepEqual([built.generation, built.created], [1, true], "build makes generation 1");
    const results = built.bundles;
    assert.deepEqual(
      results.map((r) => [r.container, r.changed]),
      [
        ["hello", true],
        ["web", true],
      ],
    );
    const configs: string[] = [];
    for (const r of results) {
      // Bundles are named by content; bundles/NAME links to the newest one.
      assert.match(r.bundle, new RegExp(`^${join(state, "bundles", r.container)}-[0-9a-f]{16}$`));
      assert.equal(realpathSync(join(state, "bundles", r.container)), r.bundle);

      const text = readFileSync(join(r.bundle, "config.json"), "utf8");
      configs.push(text);
      assert.deepEqual(validate(JSON.parse(text)), []);
      assert.equal(statSync(join(r.bundle, "config.json")).mode & 0o777, 0o600);
    }
    const second = await railyard([...cfg, "build"]);
    assert.match(second.stdout, /hello .* up to date/);
    assert.match(second.stdout, /web .* up to date/);
    const forced = await railyard([...cfg, "build", "--force", "--json"]);
    const again = JSON.parse(forced.stdout) as {
      generation: number;
      created: boolean;
      bundles: { changed: boolean }[];
    };
    assert.ok(again.bundles.every((r) => r.changed));
    assert.deepEqual(
      [again.generation, again.created],
      [1, false],
      "identical content reuses the generation",
    );
    assert.deepEqual(
      results.map((r) => readFileSync(join(r.bundle, "config.json"), "utf8")),
      configs,
      "byte-identical after a rebuild",
    );
  });

  test("files are hardlinked from the host, not copied", async () => {
    const cfg = config("links", { l: { args: ["/bin/busybox", "true"] } });
    await railyard([...cfg, "build"]);
    const host = statSync("/bin/busybox");
    const inRoot = statSync(join(state, "bundles/l/rootfs/bin/busybox"));
    assert.equal(inRoot.ino, host.ino);
  });

  test("a change to the config rebuilds only that container", async () => {
    const cfg1 = config("change", {
      a: { args: ["/bin/busybox", "true"] },
      b: { args: ["/bin/busybox", "true"] },
    });
    await railyard([...cfg1, "build"]);
    const cfg2 = config("change", {
      a: { args: ["/bin/busybox", "true"] },
      b: { args: ["/bin/busybox", "false"] },
    });
    const r = await railyard([...cfg2, "build", "--json"]);
    assert.deepEqual(
      (JSON.parse(r.stdout) as { bundles: { container: string; changed: boolean }[] }).bundles.map(
        (x) => [x.container, x.changed],
      ),
      [
        ["a", false],
        ["b", true],
      ],
    );
  });
});

describe("config errors", () => {
  const cases: [string, string, RegExp][] = [
    [
      "unknown key",
      JSON.stringify({ containers: { hello: { args: ["/bin/true"], volumnes: [] } } }),
      /containers\.hello\.volumnes: unknown key \(did you mean "volumes"\?\)/,
    ],
    [
      "relative mount source",
      JSON.stringify({
        containers: { hello: { args: ["/bin/true"], mounts: { "/data": { source: "data" } } } },
      }),
      /containers\.hello\.mounts\.\/data\.source: must be an absolute path/,
    ],
    [
      "duplicate destination",
      JSON.stringify({
        containers: { hello: { args: ["/bin/true"], volumes: ["/a:/d", "/b:/d"] } },
      }),
      /containers\.hello\.volumes\[1\]: destination \/d is already mounted by volumes\[0\]/,
    ],
    [
      "bad user",
      JSON.stringify({ containers: { hello: { args: ["/bin/true"], user: "abc:1" } } }),
      /containers\.hello\.user: "abc:1": user "abc" does not exist on this host/,
    ],
    [
      "bad name",
      JSON.stringify({ containers: { "a/b": { args: ["/bin/true"] } } }),
      /containers\.a\/b: "a\/b" is not a valid container name/,
    ],
    ["syntax error", "{ containers: ", /invalid JSON/],
  ];
  for (const [what, text, message] of cases)
    test(`${what}: a distinct message, exit 2, nothing written`, async () => {
      const sd = join(dir, `err-${what.replace(/ /g, "-")}`);
      const file = join(dir, `err-${what.replace(/ /g, "-")}.json`);
      writeFileSync(file, text);
      for (const cmd of ["build", "check"]) {
        const r = await railyard(["--state-dir", sd, "--config", file, cmd]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, message);
        assert.ok(r.stderr.includes(file), "the message names the file");
        assert.equal(r.stdout, "");
      }
      const run = await railyard(["--state-dir", sd, "--config", file, "run", "hello"]);
      assert.equal(run.code, 2);
      assert.ok(!existsSync(sd), "nothing was written to the state dir");
    });

  test("a missing config file is exit 2 with its path", async () => {
    const r = await railyard(["--config", join(dir, "nope.ts"), "build"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nope\.ts: config file not found \(named by --config\)/);
  });

  test("a program that is not on the host fails the build clearly (exit 1), before anything runs", async () => {
    const cfg = config("missing", { m: { args: ["/usr/bin/definitely-not-here"] } });
    const r = await railyard([...cfg, "run", "m"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\/usr\/bin\/definitely-not-here does not exist on this host/);
  });
});

describe("CLI", () => {
  test("--help lists the commands; --verbose says why runc was chosen", async () => {
    const help = await railyard(["--help"]);
    assert.equal(help.code, 0);
    for (const c of ["build", "run", "check", "--config", "--state-dir", "--json", "--verbose"])
      assert.ok(help.stdout.includes(c), c);
    const cfg = config("verbose", { v: { args: ["/bin/busybox", "true"] } });
    const r = await railyard([...cfg, "--verbose", "run", "v"]);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /runtime: (runc|crun) \(/);
    assert.match(r.stderr, /(hybrid.*using runc|crun found and the cgroup layout)/);
    const unknown = await railyard(["frob"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frob"/);
    const badContainer = await railyard([...cfg, "run", "nope"]);
    assert.equal(badContainer.code, 2);
    assert.match(badContainer.stderr, /no container named "nope" .* known: v/);
  });

  test("the bundled demo runs", async () => {
    const r = await railyard([
      "--config",
      "examples/hello/railyard.config.ts",
      "--state-dir",
      join(dir, "demo"),
      "run",
      "hello",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^hello from hello, uid 2000:100$/m);
  });
});

describe("generations without systemd", () => {
  test("each changed build makes a generation; gc --keep 1 deletes the older ones and their bundles", async () => {
    const gstate = join(dir, "gens-state");
    const gen = (v: string) =>
      config(
        "gens",
        { a: { args: ["/bin/busybox", "echo", v] }, b: { args: ["/bin/busybox", "true"] } },
        { stateDir: gstate },
      );
    for (const v of ["1", "2", "3"]) assert.equal((await railyard([...gen(v), "build"])).code, 0);
    const list = JSON.parse((await railyard([...gen("3"), "generations", "--json"])).stdout) as {
      generation: number;
      current: boolean;
    }[];
    assert.deepEqual(
      list.map((g) => [g.generation, g.current]),
      [
        [1, false],
        [2, false],
        [3, false],
      ],
      "built, none activated",
    );
    const bundlesBefore = readdirSync(join(gstate, "bundles")).filter((n) =>
      /^a-[0-9a-f]{16}$/.test(n),
    );
    assert.equal(bundlesBefore.length, 3, "one bundle of a per generation, b's shared");
    const dry = JSON.parse(
      (await railyard([...gen("3"), "gc", "--keep", "1", "--dry-run", "--json"])).stdout,
    ) as { generations: number[]; bundles: string[] };
    assert.deepEqual(dry.generations, [1, 2]);
    assert.equal(dry.bundles.filter((b) => b.startsWith("a-")).length, 2);
    assert.equal(
      readdirSync(join(gstate, "generations")).filter((n) => /^\d+$/.test(n)).length,
      3,
      "--dry-run deleted nothing",
    );
    const r = await railyard([...gen("3"), "gc", "--keep", "1"]);
    assert.match(r.stdout, /^deleted 2 generations, 2 bundles/);
    assert.deepEqual(
      readdirSync(join(gstate, "generations")).filter((n) => /^\d+$/.test(n)),
      ["3"],
    );
    assert.equal(
      (await railyard([...gen("3"), "run", "a"])).stdout,
      "3\n",
      "what is kept still runs",
    );
    assert.equal((await railyard([...gen("3"), "gc", "--keep", "0"])).code, 2);
  });
});
