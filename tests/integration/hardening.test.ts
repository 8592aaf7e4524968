/**
 * The faults an adversarial pass over the CLI found (#16), each as the user or attacker meets
 * it: the real `railyard` binary, real files, real owners and modes.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  lchownSync,
  mkdirSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { runtimeId } from "../helpers/ids.js";
import { after, describe, test } from "node:test";
import { railyard, scratchDir } from "../helpers/cli.js";

const { dir, cleanup } = scratchDir("railyard-hardening-");
after(cleanup);

let n = 0;
function config(containers: Record<string, unknown>, ext = "json"): string[] {
  const home = join(dir, `p${n++}`);
  mkdirSync(home, { recursive: true });
  const file = join(home, `railyard.config.${ext}`);
  writeFileSync(file, JSON.stringify({ stateDir: join(home, "state"), containers }));
  return ["--config", file];
}

/** A file that stands for /etc/shadow: a secret on a line that is not KEY=value. */
const SECRET = "root:$6$s3cr3t-hash:19000:0:99999:7:::";
const secretFile = join(dir, "shadow");
writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });

describe("security", () => {
  test("a volume source is never created through a symlink someone else owns", async () => {
    const alice = join(dir, "home/alice");
    const target = join(dir, "etc-systemd-system");
    mkdirSync(alice, { recursive: true });
    mkdirSync(target);
    lchownSync(alice, 1000, 1000);
    symlinkSync(target, join(alice, "app"));
    lchownSync(join(alice, "app"), 1000, 1000);
    const cfg = config({
      x: { args: ["/bin/busybox", "true"], user: "1000:1000", volumes: [`${alice}/app/x:/data`] },
    });
    const r = await railyard([...cfg, "build"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /containers\.x: volumes\[0\]: .*app is a symbolic link owned by uid 1000, not by root/,
    );
    assert.deepEqual(readdirSync(target), [], "nothing was made where the link points");
  });

  test("every export file is 0600 (they hold environment values and Secrets), even over a 0644 one", async () => {
    const env = join(dir, "app.env");
    writeFileSync(env, "TOKEN=t0k3n\n", { mode: 0o600 });
    const cfg = config({
      app: {
        image: "docker.io/library/busybox:1.36@sha256:" + "a".repeat(64),
        environment: { PASSWORD: "pw" },
        environmentFiles: [env],
      },
    });
    const out = join(dir, "exports");
    for (const [format, where] of [
      ["kubernetes", join(out, "k8s")],
      ["quadlet", join(out, "quadlet")],
      ["compose", join(out, "compose.yaml")],
    ] as const) {
      if (format === "compose") {
        mkdirSync(out, { recursive: true });
        writeFileSync(where, "old\n", { mode: 0o644 });
      }
      const r = await railyard([...cfg, "export", format, "--out", where]);
      assert.equal(r.code, 0, r.stderr);
      const files = format === "compose" ? [where] : readdirSync(where).map((f) => join(where, f));
      assert.ok(files.length > 0);
      for (const f of files) assert.equal(statSync(f).mode & 0o777, 0o600, `${f} is 0600`);
      if (format !== "compose")
        assert.equal(statSync(where).mode & 0o777, 0o700, `${where} is 0700`);
    }
  });

  test("no error message prints a line of a file it could not parse", async () => {
    const env = await railyard([
      ...config({ x: { args: ["/bin/true"], environmentFiles: [secretFile] } }),
      "check",
    ]);
    assert.equal(env.code, 2, env.stderr);
    assert.match(
      env.stderr,
      /containers\.x\.environmentFiles\[0\]: .*shadow:1: expected KEY=value/,
    );
    const seccomp = await railyard([
      ...config({ x: { args: ["/bin/true"], seccomp: secretFile } }),
      "build",
    ]);
    assert.equal(seccomp.code, 1);
    assert.match(seccomp.stderr, /containers\.x\.seccomp: .*shadow: invalid JSON/);
    const imp = await railyard(["import", "compose", secretFile]);
    assert.equal(imp.code, 2);
    const json = join(dir, "secret.json");
    writeFileSync(json, `{"a": 1,\n${SECRET}\n`);
    const cfg = await railyard(["--config", json, "check"]);
    assert.equal(cfg.code, 2);
    assert.match(cfg.stderr, /secret\.json: invalid JSON/);
    for (const r of [env, seccomp, imp, cfg]) {
      assert.ok(!r.stderr.includes("s3cr3t"), `no secret in: ${r.stderr}`);
      assert.ok(!r.stdout.includes("s3cr3t"));
    }
    const missing = await railyard([
      ...config({ x: { args: ["/bin/true"], environmentFiles: [join(dir, "nope.env")] } }),
      "check",
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /environmentFiles\[0\]: cannot read .*nope\.env: no such file/);
  });

  test("a secret or environment file that is a FIFO, /dev/zero or too large for systemd: check says so, at once", async () => {
    const fifo = join(dir, "secret.fifo");
    execFileSync("mkfifo", [fifo]);
    const big = join(dir, "big.secret");
    writeFileSync(big, Buffer.alloc(3 << 20, 0x61), { mode: 0o600 });
    const bigEnv = join(dir, "big.env");
    writeFileSync(bigEnv, "A=1\n".repeat(600_000));
    const file = join(dir, "sources.json");
    writeFileSync(
      file,
      JSON.stringify({
        stateDir: join(dir, "sources-state"),
        secrets: { fifo: { file: fifo }, zero: { file: "/dev/zero" }, big: { file: big } },
        containers: {
          x: { args: ["/bin/true"], secrets: ["fifo", "zero", "big"] },
          y: { args: ["/bin/true"], environmentFiles: [fifo, "/dev/zero", bigEnv] },
        },
      }),
    );
    for (const cmd of ["check", "build"]) {
      const t0 = Date.now();
      const r = await railyard(["--config", file, cmd], { timeoutMs: 20_000 });
      assert.ok(Date.now() - t0 < 10_000, `${cmd} does not hang on the FIFO or read /dev/zero`);
      assert.equal(r.code, 2, r.stderr);
      // check names them all; build stops at the first.
      if (cmd === "build") continue;
      for (const needle of [
        /secrets\.fifo\.file: .*secret\.fifo is a FIFO, not a regular file: systemd delivers a credential from a regular file of at most 1 MiB/,
        /secrets\.zero\.file: \/dev\/zero is a character device, not a regular file/,
        /secrets\.big\.file: .*big\.secret is 3 MiB, over the limit of 1 MiB/,
        /containers\.y\.environmentFiles\[0\]: .*secret\.fifo is a FIFO, not a regular file\. expected a regular file of KEY=value lines/,
        /containers\.y\.environmentFiles\[1\]: \/dev\/zero is a character device/,
        /containers\.y\.environmentFiles\[2\]: .*big\.env is 2\.3 MiB, over the limit of 1 MiB/,
      ])
        assert.match(r.stderr, needle, cmd);
    }
    // Each under the limit, but more than systemd gives one service in all.
    const half = (n: string) => {
      const f = join(dir, `half-${n}`);
      writeFileSync(f, Buffer.alloc(600 << 10, 0x61), { mode: 0o600 });
      return { file: f };
    };
    writeFileSync(
      file,
      JSON.stringify({
        stateDir: join(dir, "sources-state"),
        secrets: { a: half("a"), b: half("b") },
        containers: { x: { args: ["/bin/true"], secrets: ["a", "b"] } },
      }),
    );
    const total = await railyard(["--config", file, "check"]);
    assert.equal(total.code, 2, total.stderr);
    assert.match(
      total.stderr,
      /containers\.x\.secrets: its secrets come to 1\.2 MiB, and systemd gives a service at most 1 MiB of credentials in all/,
    );
  });
});

describe("wrong results", () => {
  test("a TS config whose export never settles, rejects with a non-Error, or has a throwing getter: exit 2, named", async () => {
    const ts = (name: string, body: string) => {
      const file = join(dir, `${name}.config.ts`);
      writeFileSync(file, body);
      return ["--config", file];
    };
    const env = { ...process.env, RAILYARD_CONFIG: "", RAILYARD_CONFIG_TIMEOUT_MS: "500" };
    const never = await railyard(
      [...ts("never", "export default new Promise(() => {});\n"), "check"],
      { env },
    );
    assert.equal(never.code, 2, never.stderr);
    assert.match(
      never.stderr,
      /never\.config\.ts: the default export did not settle within 0\.5 s/,
    );
    const rejects = await railyard([
      ...ts("rejects", "export default Promise.reject(42);\n"),
      "check",
    ]);
    assert.equal(rejects.code, 2, rejects.stderr);
    assert.match(
      rejects.stderr,
      /rejects\.config\.ts: the default export failed: it threw number rather than an Error/,
    );
    const getter = await railyard([
      ...ts("getter", "export default { get containers() { throw new Error('boom'); } };\n"),
      "check",
    ]);
    assert.equal(getter.code, 2, getter.stderr);
    assert.match(getter.stderr, /getter\.config\.ts: the config is not plain data .*: boom/);
    // Code that never ends, or that allocates without end: stopped at the limit, named.
    const loop = await railyard([...ts("loop", "for (;;) {}\nexport default {};\n"), "check"], {
      env,
    });
    assert.equal(loop.code, 2, loop.stderr);
    assert.match(
      loop.stderr,
      /loop\.config\.ts: did not finish loading within 0\.5 s: its code runs on/,
    );
    const hog = await railyard([
      ...ts(
        "hog",
        "const a: number[][] = [];\nfor (;;) a.push(new Array(1e6).fill(1));\nexport default {};\n",
      ),
      "check",
    ]);
    assert.equal(hog.code, 2, hog.stderr);
    assert.match(
      hog.stderr,
      /hog\.config\.ts: used more than 256 MiB of memory while loading, and was stopped$/m,
    );
    assert.doesNotMatch(hog.stderr, /FATAL ERROR|heap/);
  });

  test("absurd resources are refused with the key and the range, not turned into no limit", async () => {
    const r = await railyard([
      ...config({
        a: { args: ["/bin/true"], resources: { memory: "99999999999999999999g" } },
        b: { args: ["/bin/true"], resources: { cpus: 1e300 } },
        c: { args: ["/bin/true"], resources: { cpus: 0.001, memory: "1k" } },
      }),
      "check",
    ]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /containers\.a\.resources\.memory: "99999999999999999999g" is out of range/,
    );
    assert.match(r.stderr, /containers\.b\.resources\.cpus: 1e\+300 is out of range/);
    assert.match(r.stderr, /containers\.c\.resources\.cpus: 0\.001 is out of range/);
    assert.match(r.stderr, /containers\.c\.resources\.memory: "1k" is out of range/);
  });

  test("a YAML alias bomb as a config is exit 2, naming the file", async () => {
    const file = join(dir, "bomb.yaml");
    const lines = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 12; i++)
      lines.push(
        `${"b".repeat(i)}: &${"b".repeat(i)} [${Array(9)
          .fill(`*${i === 1 ? "a" : "b".repeat(i - 1)}`)
          .join(", ")}]`,
      );
    writeFileSync(file, `${lines.join("\n")}\n`);
    const r = await railyard(["--config", file, "check"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /bomb\.yaml: invalid YAML/);
    assert.doesNotMatch(r.stderr, /internal error/);
  });
});

describe("leftovers", () => {
  test("gc removes what killed builds left (their pid is dead), and leaves work in progress alone", async () => {
    const cfg = config({ hello: { args: ["/bin/busybox", "true"] } });
    const built = await railyard([...cfg, "build"]);
    assert.equal(built.code, 0, built.stderr);
    const state = join(dir, `p${n - 1}`, "state");
    const dead = 4_000_000; // above any pid_max in use here: no such process
    const stale = [
      join(state, "bundles", `hello-0123456789abcdef.tmp-${dead}`),
      join(state, "rootfs", `.tmp-${dead}-deadbeef`),
      join(state, "generations", `.tmp-9-${dead}`),
    ];
    const live = [
      join(state, "bundles", "hello-0123456789abcdef.tmp-1"),
      join(state, "rootfs", ".tmp-1-deadbeef"),
    ];
    for (const d of [...stale, ...live]) mkdirSync(join(d, "sub"), { recursive: true });
    const dry = await railyard([...cfg, "gc", "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.ok(
      stale.every((d) => existsSync(d)),
      "a dry run deletes nothing",
    );
    const r = await railyard([...cfg, "gc"]);
    assert.equal(r.code, 0, r.stderr);
    for (const d of stale) assert.ok(!existsSync(d), `${d} is removed`);
    for (const d of live) assert.ok(existsSync(d), `${d} (pid 1 is alive) is kept`);
    // A partial download no pull holds the lock of is stale now, not after an hour.
    const tmp = join(state, "tmp");
    mkdirSync(tmp, { recursive: true });
    writeFileSync(join(tmp, `partial-${"c".repeat(64)}`), "half a blob");
    const again = await railyard([...cfg, "gc"]);
    assert.match(again.stdout, /1 partial downloads/);
    assert.ok(!existsSync(join(tmp, `partial-${"c".repeat(64)}`)));
    // The bundle the build just made stays: it is the container's newest.
    assert.ok(readdirSync(join(state, "bundles")).some((b) => /^hello-[0-9a-f]{16}$/.test(b)));
  });
});

describe("exit codes and arguments", () => {
  test("user errors are exit 2 with one line, never an internal error", async () => {
    const cfg = config({ hello: { args: ["/bin/busybox", "true"] } });
    for (const args of [
      ["pull", "no such::ref"],
      ["images", "rm", "no such::ref"],
      ["generations", "extra"],
      ["gc", "--keep", "-1"],
      ["rollback", "--to", "-1"],
    ]) {
      const r = await railyard([...cfg, ...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /internal error|needs a value/, args.join(" "));
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
    }
  });

  test("--state-dir relative to where railyard runs; generations with none says so", async () => {
    const cfg = config({ hello: { args: ["/bin/busybox", "true"] } });
    const cwd = join(dir, "rel");
    mkdirSync(cwd);
    const r = await railyard([...cfg, "--state-dir", "st", "generations"], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `no generations yet in ${join(cwd, "st")}: railyard build or railyard switch makes the first\n`,
    );
    const b = await railyard([...cfg, "--state-dir", "st", "build"], { cwd });
    assert.equal(b.code, 0, b.stderr);
    assert.ok(existsSync(join(cwd, "st/generations/1")));
  });
});

describe("a state filesystem that cannot be written", () => {
  // The lock's holder kept running after its pid write failed, and the command never exited.
  for (const what of ["read-only", "full"] as const)
    test(`${what}: build exits 1 at once, naming the filesystem, and leaves no lock holder behind`, async () => {
      const fs = join(dir, `state-${what}`);
      mkdirSync(fs);
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", fs]);
      try {
        const state = join(fs, "state");
        mkdirSync(state);
        writeFileSync(join(state, "switch.lock"), "");
        if (what === "read-only") execFileSync("mount", ["-o", "remount,ro", fs]);
        else spawnSync("dd", ["if=/dev/zero", `of=${join(fs, "filler")}`, "bs=4k"]);
        const file = join(dir, `${what}.json`);
        writeFileSync(
          file,
          JSON.stringify({
            stateDir: state,
            containers: { t: { args: ["/bin/busybox", "true"] } },
          }),
        );
        const t0 = Date.now();
        const r = await railyard(["--config", file, "build"], { timeoutMs: 20_000 });
        assert.ok(Date.now() - t0 < 15_000, "it exits, and soon");
        assert.equal(r.code, 1, r.stderr);
        assert.match(
          r.stderr,
          what === "read-only"
            ? new RegExp(
                `^railyard: cannot write ${state}/switch\\.lock: ${fs} \\(tmpfs from tmpfs\\) is mounted read-only\\. remount it read-write`,
              )
            : new RegExp(
                `^railyard: cannot write ${state}/switch\\.lock: no space left on ${fs} \\(tmpfs from tmpfs\\), 0 MiB free there`,
              ),
        );
        assert.doesNotMatch(r.stderr, /internal error/);
        // No flock of ours still holds the file.
        assert.equal(
          spawnSync("flock", ["--nonblock", join(state, "switch.lock"), "true"]).status,
          0,
        );
      } finally {
        execFileSync("umount", [fs]);
      }
    });
});

describe("a full disk", () => {
  test("is one line naming the path and the space left, exit 1, and leaves no half-written bundle", async () => {
    const small = join(dir, "small");
    mkdirSync(small);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", small]);
    try {
      const home = join(dir, "full");
      mkdirSync(home);
      const file = join(home, "railyard.config.json");
      // A writable host-program root is made of copies: python3's closure does not fit.
      writeFileSync(
        file,
        JSON.stringify({
          stateDir: join(small, "state"),
          containers: { py: { args: ["/usr/bin/python3", "-c", "0"], readonly: false } },
        }),
      );
      const r = await railyard(["--config", file, "build"]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /^railyard: cannot write \/.*: no space left on \/.*small \(tmpfs from tmpfs\), \d+ MiB free there\. free some space/,
      );
      assert.doesNotMatch(r.stderr, /internal error/);
      assert.equal(r.stderr.trim().split("\n").length, 1);
      const bundles = readdirSync(join(small, "state/bundles"));
      assert.deepEqual(
        bundles.filter((b) => b.includes(".tmp-")),
        [],
        "the temporary bundle is gone",
      );
    } finally {
      execFileSync("umount", [small]);
    }
  });
});

describe("ids", () => {
  test("two projects with a container of the same name run at once: runtime ids are per state dir", async () => {
    const a = config({ x: { args: ["/bin/busybox", "sh", "-c", "echo a; /bin/busybox sleep 3"] } });
    const b = config({ x: { args: ["/bin/busybox", "echo", "b"] } });
    const stateA = join(dir, `p${n - 2}`, "state");
    const first = railyard([...a, "run", "x"]);
    const idA = runtimeId(stateA, "x");
    for (let i = 0; i < 100 && !existsSync(`/run/runc/${idA}`); i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(`/run/runc/${idA}`), `${idA} runs`);
    const second = await railyard([...b, "run", "x"]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, "b\n");
    const done = await first;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout, "a\n");
  });
});
