import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { resolveConfig } from "../config/resolve/index.js";
import type { ResolvedContainer } from "../model/types.js";
import { ociValidator } from "../../tests/helpers/oci-schema.js";
import { fakeContext, SCOPE } from "../../tests/helpers/context.js";
import {
  envFileStart,
  envFileUnitLines,
  mergeStartEnv,
  START_ENV_AWK,
  startBundleDir,
} from "./env-files.js";
import { parseEnvFile } from "./host.js";
import { hostProcess } from "./process.js";
import { renderSpec, serializeSpec, type OciSpec } from "./spec.js";

// The start's commands are run for real (mkdir and Debian's awk, with the unit's environment),
// in a scratch "runtime dir".
const work = mkdtempSync(join(tmpdir(), "railyard-envfiles-"));
const scope = { ...SCOPE, runtimeDir: join(work, "run") };
after(() => rmSync(work, { recursive: true, force: true }));
const program = join(work, "start-env.awk");
writeFileSync(program, START_ENV_AWK);

function container(files: string[], environment: Record<string, string> = {}): ResolvedContainer {
  const c = resolveConfig(
    {
      containers: {
        app: { args: ["/bin/busybox", "true"], environment, environmentFiles: files },
      },
    },
    fakeContext(),
  ).containers["app"];
  assert.ok(c);
  return c;
}

/** A bundle as build writes it, in its own directory. */
function bundle(c: ResolvedContainer, name: string, rootPath?: string): string {
  const real = join(work, "bundles", name);
  mkdirSync(join(real, "rootfs"), { recursive: true });
  const spec = renderSpec(c, {
    rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
    devices: {},
    process: hostProcess(c, "/bin/busybox"),
    ...(rootPath ? { rootPath } : {}),
  });
  writeFileSync(join(real, "config.json"), serializeSpec(spec));
  return real;
}

/** Run the start's commands as systemd would: each in turn, with the unit's Environment=. */
function start(c: ResolvedContainer, b: string) {
  const s = envFileStart(c, "railyard-app", b, program, scope);
  assert.ok(s);
  const run = ([cmd, ...args]: readonly string[]) =>
    spawnSync(cmd ?? "", args, { encoding: "utf8", env: { ...s.env } });
  const mk = run(s.mkdir);
  assert.equal(mk.status, 0, mk.stderr);
  const r = run(s.awk);
  const out = join(startBundleDir("railyard-app", scope), "config.json");
  return {
    ...r,
    out,
    spec: r.status === 0 ? (JSON.parse(readFileSync(out, "utf8")) as OciSpec) : undefined,
  };
}

const envFile = (name: string, text: string) => {
  const f = join(work, name);
  writeFileSync(f, text);
  return f;
};

/** What railyard run (in Node) gives the same container from the same files. */
function expected(c: ResolvedContainer, b: string): string[] {
  const spec = JSON.parse(readFileSync(join(b, "config.json"), "utf8")) as OciSpec;
  const files: Record<string, string> = {};
  for (const f of c.environmentFiles) {
    const r = parseEnvFile(readFileSync(f, "utf8"));
    assert.ok(r.ok);
    Object.assign(files, r.env);
  }
  return mergeStartEnv(spec.process.env, files, Object.keys(c.environment));
}

test("the start's awk merges env files exactly as Node does, for values JSON must escape", () => {
  const tricky = envFile(
    "tricky.env",
    [
      "# a comment",
      "",
      "PLAIN=value with spaces",
      '  export QUOTED="kept as written"',
      "BACKSLASH=C:\\path\\to\\x",
      "TAB=a\tb",
      "CTRL=bell\x07 esc\x1b del\x7f",
      "EQUALS=a=b=c",
      "EMPTY=",
      "UNICODE=gr\u00fc\u00df \u2603",
      "CRLF=line\r",
      "MID_CR=a\rb",
      "export=not a prefix",
      "HOSTNAME=from-file",
      "DUP=first",
    ].join("\n"),
  );
  const later = envFile("later.env", "DUP=second\nINLINE=from-file\n");
  const c = container([tricky, later], { INLINE: "from-config" });
  const b = bundle(c, "tricky");
  const r = start(c, b);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.spec);
  const env = (list: readonly string[]) => [...list].sort();
  assert.deepEqual(env(r.spec.process.env), env(expected(c, b)));
  const got = Object.fromEntries(
    r.spec.process.env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
  );
  assert.equal(got["QUOTED"], '"kept as written"', "no quote processing, as docker's --env-file");
  assert.equal(got["BACKSLASH"], "C:\\path\\to\\x");
  assert.equal(got["CTRL"], "bell\x07 esc\x1b del\x7f");
  assert.equal(got["UNICODE"], "gr\u00fc\u00df \u2603");
  assert.equal(got["CRLF"], "line", "a CRLF file's \\r is not part of the value");
  assert.equal(got["MID_CR"], "a\rb");
  assert.equal(got["export"], "not a prefix");
  assert.equal(got["HOSTNAME"], "from-file", "a file overrides what railyard sets");
  assert.equal(got["DUP"], "second", "a later file overrides an earlier one");
  assert.equal(got["INLINE"], "from-config", "environment overrides every file");
  assert.equal(
    r.spec.process.env.filter((e) => e.startsWith("HOSTNAME=")).length,
    1,
    "no key twice",
  );
  // The composed config is a valid runtime spec, with the bundle's real rootfs as its root.
  assert.deepEqual(ociValidator("runtime-spec", "config-schema.json")(r.spec), []);
  assert.equal(r.spec.root.path, join(work, "bundles", "tricky", "rootfs"));
  // The file has the service's umask (a container inherits it, so it stays systemd's 0022); the
  // directory, 0700, keeps everyone but root (rootless: the user) out.
  assert.equal(statSync(startBundleDir("railyard-app", scope)).mode & 0o777, 0o700);
  // The bundle itself holds none of the files' values.
  assert.doesNotMatch(readFileSync(join(b, "config.json"), "utf8"), /value with spaces|second/);
});

test("an overlay root stays as built; the rest of the spec is unchanged", () => {
  const f = envFile("one.env", "TOKEN=t0k3n\n");
  const c = container([f]);
  const b = bundle(c, "overlay", "/run/railyard/overlay/railyard-app");
  const r = start(c, b);
  assert.equal(r.status, 0, r.stderr);
  const built = JSON.parse(readFileSync(join(b, "config.json"), "utf8")) as OciSpec;
  assert.ok(r.spec);
  assert.deepEqual(
    { ...r.spec, process: { ...r.spec.process, env: [] } },
    { ...built, process: { ...built.process, env: [] } },
  );
  assert.ok(r.spec.process.env.includes("TOKEN=t0k3n"));
});

test("a bad line fails the start, named by file and number and never shown; so does a missing file", () => {
  const bad = envFile("bad.env", "GOOD=1\nthis line is a secret\n");
  const c = container([bad]);
  const r = start(c, bundle(c, "bad"));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /bad\.env:2: expected KEY=value/);
  assert.doesNotMatch(r.stderr, /this line is a secret/);
  assert.deepEqual(parseEnvFile("GOOD=1\nthis line is a secret\n"), { ok: false, line: 2 });

  const gone = container([join(work, "gone.env")]);
  const g = start(gone, bundle(gone, "gone"));
  assert.notEqual(g.status, 0);
  assert.match(g.stderr, /gone\.env/);
});

test("the unit composes the config only for a container with environmentFiles, and removes it on stop", () => {
  assert.equal(envFileStart(container([]), "railyard-app", "/b", "/p.awk"), undefined);
  const s = envFileStart(
    container(["/etc/app.env"], { 'A "quoted" %key': "1" }),
    "railyard-app",
    "/b",
    "/p.awk",
  );
  assert.ok(s);
  assert.equal(s.bundle, "/run/railyard/bundles/railyard-app");
  const { pre, post } = envFileUnitLines(s);
  assert.deepEqual(pre, [
    // systemd unescapes it back to the JSON-escaped key, as the spec writes it: A \"quoted\" %key
    String.raw`Environment=RAILYARD_SPEC=/b/config.json RAILYARD_ROOT=/b/rootfs RAILYARD_OUT=/run/railyard/bundles/railyard-app/config.json "RAILYARD_KEEP=A \\\"quoted\\\" %%key"`,
    "ExecStartPre=/bin/mkdir -p -m 0700 /run/railyard/bundles/railyard-app",
    "ExecStartPre=/usr/bin/install -m 0600 /dev/null /run/railyard/bundles/railyard-app/config.json",
    "ExecStartPre=/usr/bin/awk -f /p.awk /etc/app.env /b/config.json",
  ]);
  assert.equal(post, "ExecStopPost=-/bin/rm -rf /run/railyard/bundles/railyard-app");
});
