/**
 * Image files, platforms, pull policies and interrupted pulls: a second real registry and a
 * second set of umoci-built images, independent of images.test.ts.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CLI } from "../helpers/paths.js";
import { railyard, scratchDir } from "../helpers/cli.js";
import {
  addIndex,
  buildImage,
  busyboxLayer,
  push,
  startRegistry,
  type TestRegistry,
} from "../helpers/registry.js";
import { startProxy } from "../helpers/proxy.js";
import { makeTar } from "../helpers/tar.js";

const { dir, cleanup } = scratchDir("railyard-imgfiles-");
let registry: TestRegistry;
const layout = join(dir, "layout");

const busybox = busyboxLayer;

before(async () => {
  registry = await startRegistry(join(dir, "registry"));
  for (const [tag, arch, msg] of [
    ["amd64", "amd64", "amd64 image"],
    ["arm64", "arm64", "arm64 image"],
  ] as const)
    buildImage(
      layout,
      tag,
      {
        layers: [busybox],
        config: { entrypoint: ["/bin/busybox", "echo", msg], architecture: arch },
      },
      dir,
    );
  // A bigger layer (about 4 MB of incompressible data) for the interrupted-pull test.
  buildImage(
    layout,
    "big",
    {
      layers: [
        busybox,
        (r) =>
          writeFileSync(
            join(r, "blob.bin"),
            Buffer.from(Array.from({ length: 4 << 20 }, (_, i) => (i * 2654435761) >>> 24)),
          ),
      ],
      config: { entrypoint: ["/bin/busybox", "sh", "-c", "wc -c < /blob.bin"] },
    },
    dir,
  );
  addIndex(layout, "multi", [
    { tag: "amd64", os: "linux", architecture: "amd64" },
    { tag: "arm64", os: "linux", architecture: "arm64", variant: "v8" },
  ]);
  addIndex(layout, "armonly", [{ tag: "arm64", os: "linux", architecture: "arm64" }]);
  push(layout, "multi", `${registry.host}/t/multi:v1`, { all: true });
  push(layout, "armonly", `${registry.host}/t/armonly:v1`, { all: true });
  push(layout, "big", `${registry.host}/t/big:v1`);
  push(layout, "amd64", `${registry.host}/t/plain:v1`);
});

after(async () => {
  await registry?.stop();
  cleanup();
});

function cfg(
  name: string,
  containers: Record<string, unknown>,
  registries: Record<string, unknown> = { [registry.host]: { insecure: true } },
): string[] {
  mkdirSync(join(dir, name), { recursive: true });
  const file = join(dir, name, "railyard.config.json");
  writeFileSync(
    file,
    JSON.stringify({ stateDir: join(dir, name, "state"), registries, containers }),
  );
  return ["--config", file];
}

describe("platforms", () => {
  test("a multi-arch index selects the host's platform", async () => {
    const r = await railyard([
      ...cfg("multi", { m: { image: `${registry.host}/t/multi:v1` } }),
      "run",
      "m",
    ]);
    assert.equal(r.stdout, "amd64 image\n", r.stderr);
  });
  test("an index with no image for this platform is refused, naming what it offers", async () => {
    const r = await railyard([
      ...cfg("armonly", { m: { image: `${registry.host}/t/armonly:v1` } }),
      "run",
      "m",
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no image for linux\/amd64 in the index; it offers: linux\/arm64/);
  });
});

describe("image files, without network", () => {
  const unreachable = { "127.0.0.1:9": { insecure: true } };
  test("a docker-archive, an oci-archive and an OCI layout directory each run", async () => {
    execFileSync("skopeo", [
      "copy",
      "-q",
      `oci:${layout}:amd64`,
      `docker-archive:${join(dir, "img.docker.tar")}:example/app:v1`,
    ]);
    execFileSync("skopeo", [
      "copy",
      "-q",
      `oci:${layout}:amd64`,
      `oci-archive:${join(dir, "img.oci.tar")}`,
    ]);
    const r = cfg(
      "files",
      {
        docker: { imageFile: join(dir, "img.docker.tar") },
        oci: { imageFile: join(dir, "img.oci.tar"), image: "localhost/oci-archive:v1" },
        layout: { imageFile: `oci:${layout}:amd64` },
      },
      unreachable,
    );
    for (const c of ["docker", "oci", "layout"]) {
      const out = await railyard([...r, "run", c]);
      assert.equal(out.stdout, "amd64 image\n", `${c}: ${out.stderr}`);
    }
    const lock = JSON.parse(readFileSync(join(dir, "files/railyard.lock"), "utf8")) as {
      images: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(lock.images).sort(), [
      "localhost/docker:latest",
      "localhost/layout:latest",
      "localhost/oci-archive:v1",
    ]);
  });
  test("a truncated or unknown image file is refused clearly", async () => {
    const whole = readFileSync(join(dir, "img.docker.tar"));
    writeFileSync(join(dir, "truncated.tar"), whole.subarray(0, Math.floor(whole.length / 2)));
    writeFileSync(join(dir, "empty.tar"), Buffer.alloc(1024));
    const r = cfg(
      "badfiles",
      {
        t: { imageFile: join(dir, "truncated.tar") },
        e: { imageFile: join(dir, "empty.tar") },
        n: { imageFile: join(dir, "absent.tar") },
      },
      unreachable,
    );
    const t = await railyard([...r, "build", "t"]);
    assert.equal(t.code, 1);
    assert.match(t.stderr, /truncated\.tar: not a valid tar archive: truncated archive/);
    assert.match(
      (await railyard([...r, "build", "e"])).stderr,
      /neither manifest\.json \(docker-archive\) nor index\.json \(oci-archive\)/,
    );
    assert.match((await railyard([...r, "build", "n"])).stderr, /absent\.tar: no such image file/);
  });
});

describe("images on a shared base", () => {
  test("an image rebuilt on the same base starts from a hardlinked copy of it; no image changes another's files", async () => {
    const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
    const base = makeTar([
      { name: "bin/", type: "dir" },
      { name: "bin/busybox", body: readFileSync("/bin/busybox"), mode: 0o755 },
      { name: "etc/", type: "dir" },
      { name: "etc/base.conf", body: "base v1\n" },
    ]);
    const baseTar = join(dir, "base.tar");
    writeFileSync(baseTar, base);
    const shared = join(dir, "shared-layout");
    const tops: Record<string, Buffer> = {
      a: makeTar([{ name: "app.txt", body: "a\n" }]),
      b: makeTar([{ name: "app.txt", body: "b\n" }]),
      // c replaces a file of the base and deletes another of its own base's.
      c: makeTar([
        { name: "app.txt", body: "c\n" },
        { name: "etc/", type: "dir" },
        { name: "etc/base.conf", body: "changed by c\n" },
      ]),
    };
    for (const [tag, top] of Object.entries(tops)) {
      writeFileSync(join(dir, `top-${tag}.tar`), top);
      buildImage(
        shared,
        tag,
        {
          layers: [{ tar: baseTar }, { tar: join(dir, `top-${tag}.tar`) }],
          config: { entrypoint: ["/bin/busybox", "cat", "/etc/base.conf", "/app.txt"] },
        },
        dir,
      );
    }
    const rootfs = join(dir, "shared/state/rootfs");
    const baseChain = sha(base);
    const top = (t: string) => sha(`sha256:${baseChain} sha256:${sha(tops[t] as Buffer)}`);
    const ino = (p: string) => statSync(p).ino;
    for (const tag of ["a", "b", "c"]) {
      const r = cfg("shared", { app: { imageFile: `oci:${shared}:${tag}` } });
      const out = await railyard([...r, "run", "app"]);
      assert.equal(out.stdout, `${tag === "c" ? "changed by c" : "base v1"}\n${tag}\n`, out.stderr);
      if (tag === "a")
        assert.ok(!existsSync(join(rootfs, baseChain)), "one image: no copy of its base");
    }
    // b shared a's base: its rootfs was kept; c started from it (the same inodes).
    const snapshot = join(rootfs, baseChain);
    assert.equal(ino(join(rootfs, top("c"), "bin/busybox")), ino(join(snapshot, "bin/busybox")));
    assert.equal(ino(join(rootfs, top("b"), "bin/busybox")), ino(join(snapshot, "bin/busybox")));
    // c's replacement of etc/base.conf is its own: the base and a keep theirs.
    for (const d of [snapshot, join(rootfs, top("a")), join(rootfs, top("b"))])
      assert.equal(readFileSync(join(d, "etc/base.conf"), "utf8"), "base v1\n", d);
    assert.equal(readFileSync(join(rootfs, top("c"), "etc/base.conf"), "utf8"), "changed by c\n");
    // gc: a and b are no longer named or locked; the base stays with c, which is built on it.
    const gc = await railyard([...cfg("shared", { app: { imageFile: `oci:${shared}:c` } }), "gc"]);
    assert.equal(gc.code, 0, gc.stderr);
    assert.deepEqual(readdirSync(rootfs).sort(), [".chains", baseChain, top("c")].sort());
    assert.deepEqual(readdirSync(join(rootfs, ".chains")), [top("c")]);
  });
});

describe("pull policies and the lock", () => {
  test('"never" fails when the image is not in the store, and works once it is; the lock pins the digest', async () => {
    const c = cfg("policy", { p: { image: `${registry.host}/t/plain:v1`, pull: "never" } });
    const r = await railyard([...c, "run", "p"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not in the image store and pull is "never"\. run railyard pull/);
    assert.equal((await railyard([...c, "pull"])).code, 0);
    assert.equal((await railyard([...c, "run", "p"])).stdout, "amd64 image\n");
    const first = JSON.parse(readFileSync(join(dir, "policy/railyard.lock"), "utf8")) as {
      images: Record<string, { digest: string }>;
    };
    // Move the tag to another image: "missing" keeps the locked digest; pull re-resolves it.
    push(layout, "arm64", `${registry.host}/t/plain:v1`);
    const keep = cfg("policy", { p: { image: `${registry.host}/t/plain:v1` } });
    assert.equal(
      (await railyard([...keep, "run", "p"])).stdout,
      "amd64 image\n",
      "the locked image, not the moved tag",
    );
    const pulled = await railyard([...keep, "pull", "p"]);
    assert.equal(pulled.code, 1, "the moved tag is an arm64 image");
    assert.match(pulled.stderr, /the image is for linux\/arm64/);
    const after = JSON.parse(
      readFileSync(join(dir, "policy/railyard.lock"), "utf8"),
    ) as typeof first;
    assert.deepEqual(after, first, "a failed pull leaves the lock alone");
    push(layout, "amd64", `${registry.host}/t/plain:v1`);
  });
});

describe("interrupted pulls", () => {
  test("a pull killed with SIGKILL halfway resumes with Range, and the store holds no corrupt blob", async () => {
    const proxy = await startProxy(registry.host, { throttle: 400_000 });
    try {
      const c = cfg(
        "kill",
        { big: { image: `${proxy.host}/t/big:v1` } },
        { [proxy.host]: { insecure: true } },
      );
      const tmp = join(dir, "kill/state/tmp");
      const child = spawn(process.execPath, [CLI, ...c, "pull"], { stdio: "ignore" });
      const partialBytes = () =>
        existsSync(tmp)
          ? readdirSync(tmp)
              .filter((f) => f.startsWith("partial-"))
              .reduce((a, f) => a + statSync(join(tmp, f)).size, 0)
          : 0;
      const deadline = Date.now() + 30_000;
      while (partialBytes() < 1_000_000 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      child.kill("SIGKILL");
      await new Promise((r) => child.on("close", r));
      const had = partialBytes();
      assert.ok(had >= 1_000_000, `a partial download was left (${had} bytes)`);
      assert.ok(
        !existsSync(join(dir, "kill/railyard.lock")),
        "nothing was locked by the killed pull",
      );

      const again = await railyard([...c, "run", "big"]);
      assert.equal(again.stdout.trim(), String(4 << 20), again.stderr);
      assert.ok(
        proxy.requests.some((l) => / bytes=\d+-$/.test(l)),
        "the second pull asked for the rest with Range",
      );
      const blobs = join(dir, "kill/state/images/blobs/sha256");
      for (const f of readdirSync(blobs))
        assert.equal(
          createHash("sha256")
            .update(readFileSync(join(blobs, f)))
            .digest("hex"),
          f,
        );
      assert.deepEqual(
        readdirSync(tmp).filter((f) => f.startsWith("partial-")),
        [],
        "no partial files remain",
      );
    } finally {
      await proxy.stop();
    }
  });
});

describe("newer and always, and --json progress", () => {
  test('"newer" keeps the locked image when the registry is unreachable; "always" fails', async () => {
    const proxy = await startProxy(registry.host, {});
    const regs = { [proxy.host]: { insecure: true } };
    const newer = cfg("newer", { n: { image: `${proxy.host}/t/plain:v1`, pull: "newer" } }, regs);
    const pulled = await railyard([...newer, "pull", "--json"]);
    const events = pulled.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { kind: string });
    assert.deepEqual([events[0]?.kind, events.at(-1)?.kind], ["resolved", "done"]);
    assert.ok(events.some((e) => e.kind === "layer"));
    await proxy.stop();
    const r = await railyard([...newer, "run", "n"]);
    assert.equal(r.stdout, "amd64 image\n");
    assert.match(r.stderr, /registry unreachable .* keeping the locked sha256:/);
    const always = cfg("newer", { n: { image: `${proxy.host}/t/plain:v1`, pull: "always" } }, regs);
    const a = await railyard([...always, "run", "n"]);
    assert.equal(a.code, 1);
    assert.match(a.stderr, /cannot reach http:\/\/127\.0\.0\.1/);
  });
});

describe("concurrent pulls", () => {
  test("two pulls of one image at once both succeed, each blob is downloaded once, and the store is intact", async () => {
    const proxy = await startProxy(registry.host, { throttle: 2_000_000 });
    try {
      const c = cfg(
        "concurrent",
        { big: { image: `${proxy.host}/t/big:v1` } },
        { [proxy.host]: { insecure: true } },
      );
      const [a, b] = await Promise.all([railyard([...c, "pull"]), railyard([...c, "pull"])]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const blobGets = proxy.requests.filter((l) => /^GET \/v2\/t\/big\/blobs\//.test(l));
      assert.equal(
        blobGets.length,
        new Set(blobGets).size,
        `no blob fetched twice: ${blobGets.join(", ")}`,
      );
      const blobs = join(dir, "concurrent/state/images/blobs/sha256");
      for (const f of readdirSync(blobs))
        assert.equal(
          createHash("sha256")
            .update(readFileSync(join(blobs, f)))
            .digest("hex"),
          f,
        );
    } finally {
      await proxy.stop();
    }
  });
});

describe("lock and gc", () => {
  test("railyard lock pins every image; --update re-resolves; gc keeps what is locked and drops the rest", async () => {
    const c = cfg("lockgc", {
      a: { image: `${registry.host}/t/plain:v1` },
      b: { image: `${registry.host}/t/multi:v1` },
      h: { args: ["/bin/busybox", "true"] },
    });
    const first = await railyard([...c, "lock", "--json"]);
    assert.equal(first.code, 0, first.stderr);
    const rows = (JSON.parse(first.stdout) as { images: { container: string; changed: boolean }[] })
      .images;
    assert.deepEqual(
      rows.map((r) => [r.container, r.changed]),
      [
        ["a", true],
        ["b", true],
      ],
    );
    const lockText = readFileSync(join(dir, "lockgc/railyard.lock"), "utf8");
    assert.match(
      lockText,
      new RegExp(`"${registry.host}/t/multi:v1": \\{\\s+"digest": "sha256:[a-f0-9]{64}"`),
    );
    const again = await railyard([...c, "lock"]);
    assert.match(again.stdout, /unchanged\n.*unchanged\n$/s);
    const upd = await railyard([...c, "lock", "--update", "a"]);
    assert.match(upd.stdout, /t\/plain:v1 {2}sha256:[a-f0-9]{64} {2}unchanged/);
    assert.equal(
      readFileSync(join(dir, "lockgc/railyard.lock"), "utf8"),
      lockText,
      "a re-resolved tag that did not move leaves the lock byte-identical",
    );

    await railyard([...c, "build"]);
    const images = JSON.parse((await railyard([...c, "images", "--json"])).stdout) as {
      name: string;
    }[];
    assert.deepEqual(images.map((i) => i.name).sort(), [
      `${registry.host}/t/multi:v1`,
      `${registry.host}/t/plain:v1`,
    ]);
    const keep = await railyard([...c, "gc", "--json"]);
    assert.deepEqual(
      (JSON.parse(keep.stdout) as { blobs: string[] }).blobs,
      [],
      "everything is referenced",
    );

    // Drop container b, its name and its lock entry: its blobs and unpacked rootfs become garbage.
    const c2 = cfg("lockgc", { a: { image: `${registry.host}/t/plain:v1` } });
    const lock = JSON.parse(lockText) as { images: Record<string, unknown> };
    delete lock.images[`${registry.host}/t/multi:v1`];
    writeFileSync(join(dir, "lockgc/railyard.lock"), JSON.stringify(lock));
    await railyard([...c2, "images", "rm", `${registry.host}/t/multi:v1`]);
    // A generation without b; generation 1 (which still pins b's image) is dropped with --keep 1.
    assert.equal((await railyard([...c2, "build"])).code, 0);
    const keepAll = JSON.parse((await railyard([...c2, "gc", "--dry-run", "--json"])).stdout) as {
      blobs: string[];
    };
    assert.deepEqual(keepAll.blobs, [], "generation 1 still references the index");
    const dry = JSON.parse(
      (await railyard([...c2, "gc", "--keep", "1", "--dry-run", "--json"])).stdout,
    ) as {
      blobs: string[];
      rootfs: string[];
      generations: number[];
    };
    assert.deepEqual(dry.generations, [1]);
    const multiDigest = (JSON.parse(lockText) as { images: Record<string, { digest: string }> })
      .images[`${registry.host}/t/multi:v1`]?.digest;
    // The amd64 image of the index is the same as t/plain, which stays locked: only the index goes.
    assert.deepEqual(dry.blobs, [multiDigest]);
    const blobsDir = join(dir, "lockgc/state/images/blobs/sha256");
    assert.ok(
      dry.blobs.every((d) => existsSync(join(blobsDir, d.slice(7)))),
      "--dry-run deletes nothing",
    );
    const real = await railyard([...c2, "gc", "--keep", "1"]);
    assert.match(
      real.stdout,
      /^deleted 1 generations, \d+ bundles, \d+ blobs, \d+ unpacked images, 0 partial downloads/,
      real.stderr,
    );
    assert.ok(dry.blobs.every((d) => !existsSync(join(blobsDir, d.slice(7)))));
    assert.equal(
      (await railyard([...c2, "run", "a"])).stdout,
      "amd64 image\n",
      "what is locked still runs",
    );
  });
});
