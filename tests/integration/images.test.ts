/**
 * Images end to end, with real components only: images built by umoci from host files, pushed
 * by skopeo to Debian's docker-registry on 127.0.0.1, pulled and run by railyard under runc.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createHash } from "node:crypto";
import { railyard, scratchDir } from "../helpers/cli.js";
import {
  buildImage,
  busyboxLayer,
  push,
  startRegistry,
  toZstd,
  type TestRegistry,
} from "../helpers/registry.js";
import { podmanPeer } from "../helpers/podman.js";
import { startProxy } from "../helpers/proxy.js";
import { ociValidator } from "../helpers/oci-schema.js";

const { dir, cleanup } = scratchDir("railyard-images-");
let registry: TestRegistry;
let authRegistry: TestRegistry;
const layout = join(dir, "layout");
const zlayout = join(dir, "layout-zstd");

/** The same listing inside a container and on the host: path, type, mode, owner, size, link target. */
const LIST =
  "cd / && find . -xdev ! -path ./proc ! -path ./dev ! -path ./sys ! -path . " +
  "! -path ./etc/hosts ! -path ./etc/hostname ! -path ./etc/resolv.conf | sort | " +
  'while read -r f; do if [ -L "$f" ]; then echo "$f link $(readlink "$f")"; else stat -c \'%n %F %a %u:%g %s\' "$f"; fi; done';

before(async () => {
  registry = await startRegistry(join(dir, "registry"));
  authRegistry = await startRegistry(join(dir, "registry-auth"), {
    user: "alice",
    password: "s3cret",
  });
  // Layer 3 comes from GNU tar: an opaque whiteout, which umoci's repack never writes itself.
  const opq = join(dir, "opq-layer");
  mkdirSync(join(opq, "opq"), { recursive: true });
  writeFileSync(join(opq, "opq/.wh..wh..opq"), "");
  writeFileSync(join(opq, "opq/new"), "new\n");
  execFileSync("tar", ["-cf", join(dir, "opq.tar"), "-C", opq, "."]);
  buildImage(
    layout,
    "v1",
    {
      layers: [
        (r) => {
          busyboxLayer(r);
          symlinkSync("busybox", join(r, "bin/sh"));
          mkdirSync(join(r, "etc"), { recursive: true });
          writeFileSync(
            join(r, "etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
          );
          writeFileSync(join(r, "etc/group"), "root:x:0:\napp:x:1000:\n");
          mkdirSync(join(r, "data"));
          writeFileSync(join(r, "data/keep"), "kept\n");
          writeFileSync(join(r, "data/gone"), "gone\n");
          mkdirSync(join(r, "opq/sub"), { recursive: true });
          writeFileSync(join(r, "opq/old"), "old\n");
          writeFileSync(join(r, "replace"), "a file\n");
        },
        (r) => {
          rmSync(join(r, "data/gone")); // a whiteout
          linkSync(join(r, "data/keep"), join(r, "data/keep-hard")); // a hardlink
          symlinkSync("/data/keep", join(r, "link")); // a symlink
          rmSync(join(r, "replace"));
          mkdirSync(join(r, "replace")); // file -> directory
          writeFileSync(join(r, "replace/inner"), "inner\n");
        },
      ],
      config: {
        entrypoint: ["/bin/busybox"],
        cmd: ["echo", "hello from the image"],
        user: "app",
        workdir: "/data",
        env: ["GREETING=hi"],
        labels: { "org.example.kind": "test" },
      },
    },
    dir,
  );
  // Recompress those two layers with zstd, then add the opaque layer on top with gzip.
  toZstd(layout, "v1", zlayout);
  execFileSync("umoci", ["raw", "add-layer", "--image", `${zlayout}:v1`, join(dir, "opq.tar")]);
  // umoci 0.4 cannot unpack zstd, so the reference unpack is the same layers, all gzip.
  execFileSync("umoci", ["tag", "--image", `${layout}:v1`, "ref"]);
  execFileSync("umoci", ["raw", "add-layer", "--image", `${layout}:ref`, join(dir, "opq.tar")]);
  push(zlayout, "v1", `${registry.host}/test/bb:v1`);
  push(zlayout, "v1", `${authRegistry.host}/test/bb:v1`, { creds: "alice:s3cret" });
});

after(async () => {
  await registry?.stop();
  await authRegistry?.stop();
  cleanup();
});

function configFile(
  name: string,
  o: {
    registries?: Record<string, unknown>;
    containers: Record<string, unknown>;
    stateDir?: string;
  },
): string[] {
  const file = join(dir, name, "railyard.config.json");
  mkdirSync(join(dir, name), { recursive: true });
  writeFileSync(
    file,
    JSON.stringify({
      stateDir: o.stateDir ?? join(dir, name, "state"),
      registries: o.registries ?? {},
      containers: o.containers,
    }),
  );
  return ["--config", file];
}

/** Every blob in a store is named by its own sha256. */
function assertStoreIntact(stateDir: string): void {
  const blobs = join(stateDir, "images/blobs/sha256");
  for (const f of readdirSync(blobs)) {
    const actual = createHash("sha256")
      .update(readFileSync(join(blobs, f)))
      .digest("hex");
    assert.equal(actual, f, `blob ${f} holds what its name says`);
  }
}

/** The manifest of test/bb:v1 as the registry serves it, read by skopeo. */
const registryManifest = () =>
  JSON.parse(
    execFileSync(
      "skopeo",
      ["inspect", "--raw", "--tls-verify=false", `docker://${registry.host}/test/bb:v1`],
      { encoding: "utf8" },
    ),
  ) as { layers: { mediaType: string; digest: string }[] };

describe("pull and run from a real registry", () => {
  test("a multi-layer image (whiteout, opaque dir, hardlink, symlink, zstd) runs, and its files match umoci unpack", async () => {
    const manifest = registryManifest();
    assert.deepEqual(
      manifest.layers.map((l) => l.mediaType.split("+")[1]),
      ["zstd", "zstd", "gzip"],
    );

    const cfg = configFile("run", {
      registries: { [registry.host]: { insecure: true } },
      containers: {
        bb: { image: `${registry.host}/test/bb:v1` },
        list: {
          image: `${registry.host}/test/bb:v1`,
          user: "0:0",
          entrypoint: ["/bin/sh", "-c", LIST],
        },
      },
    });
    const hello = await railyard([...cfg, "run", "bb"]);
    assert.equal(hello.stdout, "hello from the image\n", hello.stderr);
    assert.equal(hello.code, 0);

    const inside = await railyard([...cfg, "run", "list"]);
    assert.equal(inside.code, 0, inside.stderr);
    const unpacked = join(dir, "umoci-unpack");
    const diffIds = (l: string) =>
      (
        JSON.parse(
          execFileSync("skopeo", ["inspect", "--config", `oci:${l}`], { encoding: "utf8" }),
        ) as { rootfs: { diff_ids: string[] } }
      ).rootfs.diff_ids;
    assert.deepEqual(
      diffIds(`${zlayout}:v1`),
      diffIds(`${layout}:ref`),
      "same uncompressed layers",
    );
    execFileSync("umoci", ["unpack", "--image", `${layout}:ref`, unpacked]);
    const outside = execFileSync(
      "/bin/busybox",
      ["sh", "-c", LIST.replace("cd / &&", `cd ${unpacked}/rootfs &&`)],
      { encoding: "utf8" },
    );
    assert.equal(inside.stdout, outside, "the container sees exactly what umoci unpacks");
    assert.match(inside.stdout, /\.\/opq\/new regular file/);
    assert.doesNotMatch(inside.stdout, /\.\/opq\/old|\.\/opq\/sub|\.\/data\/gone/);
    assert.match(inside.stdout, /\.\/link link \/data\/keep/);
    assert.match(inside.stdout, /\.\/replace\/inner/);

    const state = join(dir, "run", "state");
    assertStoreIntact(state);
    const lock = JSON.parse(readFileSync(join(dir, "run", "railyard.lock"), "utf8")) as {
      images: Record<string, { digest: string }>;
    };
    assert.match(lock.images[`${registry.host}/test/bb:v1`]?.digest ?? "", /^sha256:[a-f0-9]{64}$/);
    // The store is a valid OCI image layout.
    const layoutValid = ociValidator("image-spec", "image-layout-schema.json");
    assert.deepEqual(
      layoutValid(JSON.parse(readFileSync(join(state, "images/oci-layout"), "utf8"))),
      [],
    );
    const indexValid = ociValidator("image-spec", "image-index-schema.json");
    assert.deepEqual(
      indexValid(JSON.parse(readFileSync(join(state, "images/index.json"), "utf8"))),
      [],
    );
  });

  test("the image config becomes the process: user by name, workdir, env, labels; the config overrides them", async () => {
    const cfg = configFile("process", {
      registries: { [registry.host]: { insecure: true } },
      containers: {
        dflt: {
          image: `${registry.host}/test/bb:v1`,
          entrypoint: ["/bin/sh", "-c", 'echo "$(id -u):$(id -g) $(pwd) $GREETING $HOME"'],
        },
        over: {
          image: `${registry.host}/test/bb:v1`,
          entrypoint: ["/bin/sh", "-c", 'echo "$(id -u):$(id -g) $(pwd) $GREETING"'],
          user: "2000:100",
          workdir: "/opq",
          environment: { GREETING: "hello" },
        },
        named: {
          image: `${registry.host}/test/bb:v1`,
          entrypoint: "/bin/sh",
          cmd: ["-c", "id -un"],
          user: "root",
        },
        nouser: { image: `${registry.host}/test/bb:v1`, user: "nobody" },
      },
    });
    assert.equal(
      (await railyard([...cfg, "run", "dflt"])).stdout,
      "1000:1000 /data hi /home/app\n",
    );
    assert.equal((await railyard([...cfg, "run", "over"])).stdout, "2000:100 /opq hello\n");
    assert.equal((await railyard([...cfg, "run", "named"])).stdout, "root\n");
    const bad = await railyard([...cfg, "run", "nouser"]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /containers\.nouser\.user: user "nobody" does not exist in the image's \/etc\/passwd/,
    );
    const spec = JSON.parse(
      readFileSync(join(dir, "process/state/bundles/dflt/config.json"), "utf8"),
    ) as { annotations: Record<string, string> };
    assert.equal(spec.annotations["org.example.kind"], "test");
  });

  test("containers of one image share its unpacked files: hardlinks for a read-only root, an overlay for a writable one", async () => {
    const cfg = configFile("share", {
      registries: { [registry.host]: { insecure: true } },
      containers: {
        a: { image: `${registry.host}/test/bb:v1`, readonly: true },
        b: { image: `${registry.host}/test/bb:v1`, readonly: true },
        w: {
          image: `${registry.host}/test/bb:v1`,
          user: "0:0", // the image's own user (app) may not write /bin
          entrypoint: ["/bin/busybox", "sh", "-c"],
          cmd: [
            "cat /bin/marker 2>/dev/null; echo written > /bin/marker && busybox cat /bin/marker",
          ],
        },
      },
    });
    const r = await railyard([...cfg, "build"]);
    assert.equal(r.code, 0, r.stderr);
    const state = join(dir, "share/state");
    const ino = (c: string) =>
      execFileSync("stat", ["-c", "%i", join(state, "bundles", c, "rootfs/bin/busybox")], {
        encoding: "utf8",
      });
    assert.equal(ino("a"), ino("b"));
    assert.equal(
      readdirSync(join(state, "rootfs")).filter((n) => !n.startsWith(".")).length,
      1,
      "one unpacked copy",
    );
    // The writable root's bundle holds only railyard's own entries and an empty upper layer.
    const w = join(state, "bundles", "w");
    assert.deepEqual(readdirSync(join(w, "upper")), []);
    assert.ok(!readdirSync(join(w, "layer")).includes("bin"), "no image file is copied");
    const du = Number(execFileSync("du", ["-sk", w], { encoding: "utf8" }).split("\t")[0]);
    assert.ok(du < 100, `the writable bundle takes ${du} KiB`);
    // The container writes over an image file; the shared unpacked image is untouched, and the
    // write is kept in the container's upper layer (a second run sees it).
    const run1 = await railyard([...cfg, "run", "w"]);
    assert.equal(run1.stdout, "written\n", run1.stderr);
    const run2 = await railyard([...cfg, "run", "w"]);
    assert.equal(run2.stdout, "written\nwritten\n", run2.stderr);
    assert.equal(readFileSync(join(w, "upper/bin/marker"), "utf8"), "written\n");
    const [unpacked] = readdirSync(join(state, "rootfs")).filter((n) => !n.startsWith("."));
    assert.ok(!existsSync(join(state, "rootfs", unpacked ?? "", "bin/marker")));
    // Nothing stays mounted after the run.
    assert.doesNotMatch(readFileSync("/proc/self/mountinfo", "utf8"), /railyard-w\b/);
  });

  test("htpasswd Basic auth: credentials from the config's login, and from ~/.docker/config.json", async () => {
    const pw = join(dir, "pw");
    writeFileSync(pw, "s3cret\n");
    const ref = `${authRegistry.host}/test/bb:v1`;
    const cfg = configFile("basic", {
      registries: { [authRegistry.host]: { insecure: true } },
      containers: { bb: { image: ref, login: { username: "alice", passwordFile: pw } } },
    });
    const r = await railyard([...cfg, "run", "bb"]);
    assert.equal(r.stdout, "hello from the image\n", r.stderr);

    const anon = configFile("anon", {
      registries: { [authRegistry.host]: { insecure: true } },
      containers: { bb: { image: ref } },
    });
    const home = join(dir, "home");
    const denied = await railyard([...anon, "pull"], {
      env: { ...process.env, HOME: home, RAILYARD_CONFIG: "" },
    });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /authentication required \(basic\)/);
    mkdirSync(join(home, ".docker"), { recursive: true });
    writeFileSync(
      join(home, ".docker/config.json"),
      JSON.stringify({
        auths: { [authRegistry.host]: { auth: Buffer.from("alice:s3cret").toString("base64") } },
      }),
    );
    const ok = await railyard([...anon, "pull"], {
      env: { ...process.env, HOME: home, RAILYARD_CONFIG: "" },
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(
      !ok.stdout.includes("s3cret") && !ok.stderr.includes("s3cret"),
      "the password never appears in output",
    );
  });

  test("Bearer tokens: the realm/service/scope flow through a token server in front of the registry", async () => {
    const proxy = await startProxy(registry.host, { bearer: { user: "bob", password: "tok" } });
    try {
      const pw = join(dir, "bob-pw");
      writeFileSync(pw, "tok");
      const cfg = configFile("bearer", {
        registries: { [proxy.host]: { insecure: true } },
        containers: {
          bb: { image: `${proxy.host}/test/bb:v1`, login: { username: "bob", passwordFile: pw } },
        },
      });
      const r = await railyard([...cfg, "run", "bb"]);
      assert.equal(r.stdout, "hello from the image\n", r.stderr);
      assert.ok(proxy.requests.some((l) => l.startsWith("GET /token")));
      assert.ok(
        proxy.requests.some((l) => /^GET \/v2\/test\/bb\/blobs\/sha256:\S+ Bearer$/.test(l)),
      );
    } finally {
      await proxy.stop();
    }
  });

  test("429 Too Many Requests is retried after Retry-After", async () => {
    const proxy = await startProxy(registry.host, { tooMany: 2 });
    try {
      const cfg = configFile("busy", {
        registries: { [proxy.host]: { insecure: true } },
        containers: { bb: { image: `${proxy.host}/test/bb:v1` } },
      });
      const r = await railyard([...cfg, "pull"]);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await proxy.stop();
    }
  });

  test("a corrupted blob is refused with a digest mismatch, and nothing corrupt enters the store", async () => {
    const proxy = await startProxy(registry.host, { corrupt: true });
    try {
      const cfg = configFile("corrupt", {
        registries: { [proxy.host]: { insecure: true } },
        containers: { bb: { image: `${proxy.host}/test/bb:v1` } },
      });
      const r = await railyard([...cfg, "pull"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /blob sha256:[a-f0-9]{64}: content has digest sha256:/);
      assertStoreIntact(join(dir, "corrupt/state"));
      assert.ok(!existsSync(join(dir, "corrupt/railyard.lock")), "nothing was locked");
    } finally {
      await proxy.stop();
    }
  });

  test("a build that unpacks layers as they arrive stops cleanly when the last layer is corrupt", async () => {
    const manifest = registryManifest();
    const last = manifest.layers[manifest.layers.length - 1]?.digest ?? "";
    const proxy = await startProxy(registry.host, { corrupt: last });
    try {
      const cfg = configFile("corrupt-last", {
        registries: { [proxy.host]: { insecure: true } },
        containers: { bb: { image: `${proxy.host}/test/bb:v1` } },
      });
      const r = await railyard([...cfg, "build", "bb"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`blob ${last}: content has digest sha256:`));
      const state = join(dir, "corrupt-last/state");
      assertStoreIntact(state);
      assert.deepEqual(readdirSync(join(state, "rootfs")), [], "no rootfs, partial or whole");
      assert.ok(!existsSync(join(state, "bundles/bb")), "no bundle");
      // The next build through the real registry completes the same store.
      const ok = configFile("corrupt-last", {
        registries: { [registry.host]: { insecure: true } },
        containers: { bb: { image: `${registry.host}/test/bb:v1` } },
      });
      const again = await railyard([...ok, "run", "bb"]);
      assert.equal(again.stdout, "hello from the image\n", again.stderr);
    } finally {
      await proxy.stop();
    }
  });

  test("interop with podman: its save archive runs under railyard, and podman runs the image from the same registry", async () => {
    const podman = podmanPeer(dir).ok;
    // docker-archive (podman save's default) cannot hold zstd layers, so this is the gzip twin.
    push(layout, "ref", `${registry.host}/test/bb:gzip`);
    const ref = `${registry.host}/test/bb:gzip`;
    podman(["pull", "-q", "--tls-verify=false", ref]);
    assert.equal(podman(["run", "--rm", "--network", "none", ref]), "hello from the image\n");
    const archive = join(dir, "podman-save.tar");
    podman(["save", "-o", archive, ref]);
    const cfg = configFile("podman", {
      containers: { saved: { imageFile: archive, image: "localhost/from-podman:v1" } },
    });
    const r = await railyard([...cfg, "run", "saved"]);
    assert.equal(r.stdout, "hello from the image\n", r.stderr);
  });

  test("plain HTTP needs the registry listed as insecure", async () => {
    const cfg = configFile("secure", {
      containers: { bb: { image: `${registry.host}/test/bb:v1` } },
    });
    const r = await railyard([...cfg, "pull"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach https:\/\/127\.0\.0\.1/);
  });
});
