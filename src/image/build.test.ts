import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { BuildError } from "../errors.js";
import { buildArgv, buildDigest, contextRules, findBuilder, railyardOwnFiles } from "./build.js";

const dir = mkdtempSync(join(tmpdir(), "railyard-build-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the builder is buildah, else podman; its argv carries railyard's runtime and every build key", () => {
  assert.deepEqual(
    findBuilder((c) => (c === "podman" ? "/usr/bin/podman" : undefined)),
    {
      name: "podman",
      path: "/usr/bin/podman",
    },
  );
  assert.equal(findBuilder(() => "/usr/bin/x")?.name, "buildah");
  assert.equal(
    findBuilder(() => undefined),
    undefined,
  );
  assert.deepEqual(
    buildArgv(
      {
        context: "/srv/app",
        dockerfile: "/srv/app/Dockerfile.prod",
        args: { A: "1", B: "x y" },
        target: "run",
      },
      "oci:/var/lib/railyard/build/app:latest",
      { runtime: "/usr/sbin/runc", pull: "missing", buildId: "0f0f" },
    ),
    [
      "build",
      "--layers",
      "--label",
      "org.railyard.build-id=0f0f",
      "--runtime=/usr/sbin/runc",
      "--pull=false",
      "--file",
      "/srv/app/Dockerfile.prod",
      "--target",
      "run",
      "--build-arg",
      "A=1",
      "--build-arg",
      "B=x y",
      "--tag",
      "oci:/var/lib/railyard/build/app:latest",
      "/srv/app",
    ],
  );
  assert.ok(
    buildArgv({ context: "/c", args: {} }, "t", {
      runtime: "r",
      pull: "always",
      buildId: "1",
    }).includes("--pull=always"),
  );
});

test("the build hash changes with what reaches the builder and with nothing else", () => {
  const ctx = join(dir, "ctx");
  mkdirSync(join(ctx, "src"), { recursive: true });
  mkdirSync(join(ctx, "node_modules/x"), { recursive: true });
  writeFileSync(join(ctx, "Dockerfile"), "FROM scratch\nCOPY src /src\n");
  writeFileSync(join(ctx, "src/main.sh"), "echo hi\n");
  writeFileSync(join(ctx, "node_modules/x/big.js"), "1");
  writeFileSync(join(ctx, ".dockerignore"), "node_modules\n*.log\n");
  const b = { context: ctx, args: {} };
  const h = () => buildDigest(b, "containers.app.build", "app");
  const first = h();
  assert.match(first, /^sha256:[0-9a-f]{64}$/);
  assert.equal(h(), first, "stable");
  // Ignored files do not count.
  writeFileSync(join(ctx, "node_modules/x/big.js"), "2");
  writeFileSync(join(ctx, "debug.log"), "noise");
  assert.equal(h(), first);
  // A file's bytes, its executable bit, a new symlink, the Dockerfile, args and target do.
  const seen = new Set([first]);
  const changed = (what: string, f: () => void, hash = h) => {
    f();
    const next = hash();
    assert.ok(!seen.has(next), what);
    seen.add(next);
  };
  changed("content", () => writeFileSync(join(ctx, "src/main.sh"), "echo hello\n"));
  changed("mode", () => chmodSync(join(ctx, "src/main.sh"), 0o755));
  changed("symlink", () => symlinkSync("main.sh", join(ctx, "src/run")));
  changed("dockerfile", () => writeFileSync(join(ctx, "Dockerfile"), "FROM scratch\n"));
  changed(
    "args",
    () => {},
    () => buildDigest({ ...b, args: { V: "1" } }, "x", "app"),
  );
  changed(
    "target",
    () => {},
    () => buildDigest({ ...b, target: "t" }, "x", "app"),
  );
  // A .containerignore wins over .dockerignore, as with buildah.
  writeFileSync(join(ctx, ".containerignore"), "src\n");
  const ignoredSrc = h();
  writeFileSync(join(ctx, "src/main.sh"), "anything\n");
  assert.equal(h(), ignoredSrc);
});

test("railyard's own files in the context (the lock, the state dir) never count, whatever the ignore file says", () => {
  const ctx = join(dir, "dot");
  mkdirSync(join(ctx, "state/generations"), { recursive: true });
  writeFileSync(join(ctx, "Dockerfile"), "FROM scratch\nCOPY . /\n");
  writeFileSync(join(ctx, "railyard.lock"), "{}\n");
  // A user's "!" rule cannot bring them back: railyard's rules come last.
  writeFileSync(join(ctx, ".dockerignore"), "*.tmp\n!railyard.lock\n");
  const own = railyardOwnFiles({
    file: join(ctx, "railyard.config.ts"),
    stateDir: join(ctx, "state"),
  });
  assert.deepEqual(contextRules(ctx, own), [
    "*.tmp",
    "!railyard.lock",
    "",
    "railyard.lock",
    "state",
  ]);
  const h = () => buildDigest({ context: ctx, args: {} }, "containers.app.build", "app", own);
  const first = h();
  writeFileSync(join(ctx, "railyard.lock"), '{"images":{}}\n');
  writeFileSync(join(ctx, "state/generations/1"), "x");
  assert.equal(h(), first);
  writeFileSync(join(ctx, "app.js"), "1");
  assert.notEqual(h(), first);
  // Outside the context, they are nobody's business here.
  assert.deepEqual(contextRules(join(ctx, "state"), own), []);
});

test("a missing context or Dockerfile is a build error that names it", () => {
  assert.throws(
    () => buildDigest({ context: join(dir, "absent"), args: {} }, "containers.app.build", "app"),
    (e) =>
      e instanceof BuildError &&
      /containers\.app\.build: the build context .*absent does not exist/.test(e.message),
  );
  const empty = join(dir, "empty");
  mkdirSync(empty);
  assert.throws(
    () => buildDigest({ context: empty, args: {} }, "containers.app.build", "app"),
    /containers\.app\.build: no Containerfile or Dockerfile in .*empty/,
  );
  assert.throws(
    () =>
      buildDigest(
        { context: empty, dockerfile: join(empty, "Dockerfile.x"), args: {} },
        "w",
        "app",
      ),
    /w: .*Dockerfile\.x does not exist/,
  );
});
