import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ClosureError } from "../errors.js";
import { hostFs } from "./fs.js";
import { computeClosure, type Closure } from "./index.js";
import { parseLdCache } from "./ldcache.js";
import { parseDpkgStatus } from "./dpkg.js";

const fs = hostFs();
const scratch = mkdtempSync(join(tmpdir(), "railyard-closure-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The real files a closure holds (symlinks resolved), as ldd would name them after realpath. */
function realFiles(c: Closure): Set<string> {
  return new Set([...c.entries].filter(([, e]) => e.kind === "file").map(([p]) => realpathSync(p)));
}

/** What the real dynamic loader loads, per `ldd`, resolved to real paths. */
function lddFiles(program: string): string[] {
  const out = execFileSync("ldd", [program], { encoding: "utf8" });
  return out
    .split("\n")
    .map((l) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined)
    .map((p) => realpathSync(p));
}

const programs = [
  "/usr/bin/python3",
  "/bin/ls",
  "/usr/bin/git",
  "/usr/bin/perl",
  "/usr/bin/curl",
].filter((p) => fs.lstat(p));

test("the ELF closure holds exactly what ld.so loads (checked against ldd)", () => {
  assert.ok(programs.length >= 2, "expected some dynamic programs on this host");
  for (const p of programs) {
    const c = computeClosure(p, { fs, mode: "elf" });
    const files = realFiles(c);
    for (const lib of lddFiles(p)) assert.ok(files.has(lib), `${p}: closure lacks ${lib}`);
    assert.ok(files.has(realpathSync(p)), `${p}: closure lacks the program itself`);
    const expected = new Set([...lddFiles(p), realpathSync(p), realpathSync("/etc/ld.so.cache")]);
    for (const f of files)
      assert.ok(expected.has(f), `${p}: closure has ${f}, which ld.so does not load`);
  }
});

test("symlinks on the way (/lib -> usr/lib, python3 -> python3.11) are kept as symlinks", () => {
  const c = computeClosure("/usr/bin/python3", { fs, mode: "elf" });
  const e = c.entries.get("/usr/bin/python3");
  assert.equal(e?.kind, "symlink");
  if (fs.lstat("/lib")?.kind === "symlink") assert.equal(c.entries.get("/lib")?.kind, "symlink");
});

test("a bare program name is found on PATH; a missing or relative one is a clear error", () => {
  assert.equal(computeClosure("ls", { fs, mode: "elf" }).program, "/usr/bin/ls");
  assert.throws(
    () => computeClosure("no-such-program-xyz", { fs, mode: "elf" }),
    /"no-such-program-xyz" was not found on PATH/,
  );
  assert.throws(
    () => computeClosure("./x", { fs, mode: "elf" }),
    /must be an absolute path or a bare name/,
  );
  assert.throws(
    () => computeClosure("/nonexistent/prog", { fs, mode: "elf" }),
    (e: unknown) => e instanceof ClosureError && /does not exist on this host/.test(e.message),
  );
  assert.throws(
    () => computeClosure("/etc/debian_version", { fs, mode: "elf" }),
    /is not executable/,
  );
});

test("scripts bring their #! interpreter and, for /usr/bin/env, the program it finds", () => {
  const sh = join(scratch, "hello.sh");
  writeFileSync(sh, "#!/bin/sh\necho hi\n");
  chmodSync(sh, 0o755);
  const c = computeClosure(sh, { fs, mode: "elf" });
  assert.ok(c.entries.has(sh));
  assert.ok(realFiles(c).has(realpathSync("/bin/sh")), "the shell itself");
  for (const lib of lddFiles(realpathSync("/bin/sh"))) assert.ok(realFiles(c).has(lib), lib);

  const py = join(scratch, "hello.py");
  writeFileSync(py, "#!/usr/bin/env python3\nprint(1)\n");
  chmodSync(py, 0o755);
  const c2 = computeClosure(py, { fs, mode: "elf", searchPath: "/usr/bin:/bin" });
  assert.ok(realFiles(c2).has(realpathSync("/usr/bin/env")));
  assert.ok(realFiles(c2).has(realpathSync("/usr/bin/python3")));

  const bad = join(scratch, "bad.sh");
  writeFileSync(bad, "#!/no/such/shell\n");
  chmodSync(bad, 0o755);
  assert.throws(
    () => computeClosure(bad, { fs, mode: "elf" }),
    /\/no\/such\/shell does not exist on this host \(needed by/,
  );
});

test(
  "DT_RPATH and DT_RUNPATH with $ORIGIN resolve as ld.so resolves them",
  { skip: !fs.lstat("/usr/bin/gcc") && "gcc is not installed" },
  () => {
    const dir = join(scratch, "rpath");
    mkdirSync(join(dir, "lib"), { recursive: true });
    mkdirSync(join(dir, "bin"), { recursive: true });
    writeFileSync(join(dir, "greet.c"), "int greet(void) { return 42; }\n");
    writeFileSync(
      join(dir, "main.c"),
      "int greet(void);\nint main(void) { return greet() == 42 ? 0 : 1; }\n",
    );
    execFileSync("gcc", [
      "-shared",
      "-fPIC",
      "-o",
      join(dir, "lib/libgreet.so"),
      join(dir, "greet.c"),
    ]);
    for (const [flag, name] of [
      ["--disable-new-dtags", "rpath"],
      ["--enable-new-dtags", "runpath"],
    ] as const) {
      const exe = join(dir, "bin", name);
      execFileSync("gcc", [
        "-o",
        exe,
        join(dir, "main.c"),
        `-L${dir}/lib`,
        "-lgreet",
        `-Wl,${flag},-rpath,$ORIGIN/../lib`,
      ]);
      execFileSync(exe); // the real loader finds it
      const c = computeClosure(exe, { fs, mode: "elf" });
      assert.ok(realFiles(c).has(join(dir, "lib/libgreet.so")), `${name}: libgreet.so via $ORIGIN`);
      for (const lib of lddFiles(exe)) assert.ok(realFiles(c).has(lib), `${name}: ${lib}`);
    }
    const broken = join(dir, "bin", "broken");
    execFileSync("gcc", ["-o", broken, join(dir, "main.c"), `-L${dir}/lib`, "-lgreet"]);
    assert.throws(
      () => computeClosure(broken, { fs, mode: "elf" }),
      /needs libgreet\.so, which ld\.so would not find/,
    );
  },
);

test("an included program brings its own libraries; an included directory comes whole", () => {
  const c = computeClosure("/bin/busybox", {
    fs,
    mode: "elf",
    include: ["/usr/bin/ls", "/etc/ssl"].filter((p) => fs.lstat(p)),
  });
  for (const lib of lddFiles("/usr/bin/ls")) assert.ok(realFiles(c).has(lib), lib);
  if (fs.lstat("/etc/ssl")) assert.ok([...c.entries.keys()].some((p) => p.startsWith("/etc/ssl/")));
});

test("rootfs directories are traversable by every user, even when the host's are 0700", () => {
  const private_ = join(scratch, "private");
  mkdirSync(private_, { mode: 0o700 });
  chmodSync(private_, 0o700);
  writeFileSync(join(private_, "prog.sh"), "#!/bin/sh\n");
  chmodSync(join(private_, "prog.sh"), 0o755);
  const c = computeClosure(join(private_, "prog.sh"), { fs, mode: "elf" });
  const e = c.entries.get(private_);
  assert.equal(e?.kind === "dir" ? e.mode & 0o777 : undefined, 0o755);
});

test("ld.so.cache parses to what ldconfig -p prints", () => {
  const entries = parseLdCache(readFileSync("/etc/ld.so.cache"));
  const printed = execFileSync("ldconfig", ["-p"], { encoding: "utf8" })
    .split("\n")
    .map((l) => /^\s+(\S+) \(.*\) => (\S+)$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual(
    entries.map((e) => `${e.name} ${e.path}`),
    printed,
  );
  assert.deepEqual(parseLdCache(Buffer.from("garbage")), []);
});

test('closure: "packages" takes the owning Debian packages and their Depends (python stdlib included)', () => {
  const c = computeClosure("/usr/bin/python3", { fs, mode: "packages", arch: "amd64" });
  assert.ok(c.packages.includes("libc6"));
  assert.ok(
    c.packages.some((p) => /^python3\.\d+-minimal$/.test(p)),
    c.packages.join(" "),
  );
  const files = [...c.entries.keys()];
  assert.ok(
    files.some((f) => /\/python3\.\d+\/encodings\/__init__\.py$/.test(f)),
    "the stdlib python needs to start",
  );
  assert.ok(!files.some((f) => f.startsWith("/usr/share/doc/")), "documentation is left out");
});

test("dpkg status parsing keeps installed packages, alternatives, Pre-Depends and the source", () => {
  const pkgs = parseDpkgStatus(
    [
      "Package: a\nStatus: install ok installed\nArchitecture: amd64\nPre-Depends: p\nDepends: b (>= 1), c:any | d\nProvides: virt (= 1)\nSource: asrc (1.2-3)",
      "Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64",
    ].join("\n\n"),
  );
  assert.deepEqual(pkgs, [
    {
      name: "a",
      arch: "amd64",
      multiArch: "no",
      depends: [["p"], ["b"], ["c", "d"]],
      provides: ["virt"],
      source: "asrc",
    },
  ]);
});
