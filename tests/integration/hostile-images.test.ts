/**
 * Hostile images through the whole path: each layer is pushed by skopeo to the real registry,
 * then `railyard build` must fail with an error naming the entry, leave a canary file outside the
 * unpack directory untouched, and leave no unpacked rootfs behind.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { railyard, scratchDir } from "../helpers/cli.js";
import { craftImage, push, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { makeTar, type FixtureEntry } from "../helpers/tar.js";

const { dir, cleanup } = scratchDir("railyard-hostile-");
let registry: TestRegistry;
const layout = join(dir, "layout");

const cases: [string, FixtureEntry[], RegExp][] = [
  [
    "an entry named ../../canary",
    [{ name: "../../canary", body: "pwned" }],
    /"\.\.\/\.\.\/canary": path .* contains "\.\."/,
  ],
  [
    "an absolute entry",
    [{ name: "/tmp/railyard-pwned", body: "pwned" }],
    /"\/tmp\/railyard-pwned": path .* is absolute/,
  ],
  [
    "a write through a symlink to /",
    [
      { name: "evil", type: "symlink", linkname: "/" },
      { name: "evil/tmp/railyard-pwned", body: "x" },
    ],
    /its parent evil is a symlink to the absolute path \//,
  ],
  [
    "a write through a symlink to ../..",
    [
      { name: "up", type: "symlink", linkname: "../.." },
      { name: "up/canary", body: "x" },
    ],
    /its parent up is a symlink to \.\.\/\.\., which climbs out/,
  ],
  [
    "a hardlink to ../../canary",
    [{ name: "h", type: "hardlink", linkname: "../../canary" }],
    /"h": hardlink target .* contains "\.\."/,
  ],
  [
    "a hardlink to /etc/shadow",
    [{ name: "h", type: "hardlink", linkname: "/etc/shadow" }],
    /hardlink target "\/etc\/shadow" is absolute/,
  ],
  [
    "a hardlink through a symlinked directory",
    [
      { name: "e", type: "symlink", linkname: "/etc" },
      { name: "h", type: "hardlink", linkname: "e/shadow" },
    ],
    /its parent e is a symlink to the absolute path \/etc/,
  ],
  ["the whiteout .wh..", [{ name: ".wh.." }], /"\.wh\.\." is not a valid whiteout/],
  ["the whiteout .wh...", [{ name: ".wh..." }], /"\.wh\.\.\." is not a valid whiteout/],
  ["the bare whiteout .wh.", [{ name: "d/.wh." }], /"\.wh\." is not a valid whiteout/],
  [
    "a symlink named .",
    [{ name: ".", type: "symlink", linkname: "/" }],
    /"\.": a symlink cannot replace the layer root/,
  ],
];

before(async () => {
  registry = await startRegistry(join(dir, "registry"));
});
after(async () => {
  await registry?.stop();
  cleanup();
});

async function expectRefused(
  tag: string,
  layers: Buffer[],
  message: RegExp,
  o: { diffIds?: string[] } = {},
): Promise<void> {
  craftImage(layout, tag, layers, o);
  push(layout, tag, `${registry.host}/hostile/${tag}:v1`);
  const home = join(dir, tag);
  const state = join(home, "state");
  mkdirSync(state, { recursive: true });
  writeFileSync(join(state, "canary"), "untouched\n");
  const file = join(home, "railyard.config.json");
  writeFileSync(
    file,
    JSON.stringify({
      stateDir: state,
      registries: { [registry.host]: { insecure: true } },
      containers: { h: { image: `${registry.host}/hostile/${tag}:v1` } },
    }),
  );
  const r = await railyard(["--config", file, "build"]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, message);
  assert.equal(
    readFileSync(join(state, "canary"), "utf8"),
    "untouched\n",
    "the canary outside the target is unchanged",
  );
  assert.ok(!existsSync("/tmp/railyard-pwned"), "nothing written at an absolute host path");
  assert.deepEqual(readdirSync(join(state, "rootfs")), [], "no unpacked rootfs is left behind");
  assert.ok(!existsSync(join(state, "bundles/h")), "no bundle was written");
}

describe("hostile layers pulled from a registry are refused", () => {
  cases.forEach(([what, entries, message], i) =>
    test(what, () => expectRefused(`case${i}`, [makeTar(entries)], message)),
  );

  test("a truncated tar layer", () =>
    expectRefused(
      "truncated",
      [makeTar([{ name: "f", body: "x".repeat(4000) }]).subarray(0, 2048)],
      /invalid layer: truncated archive/,
    ));

  test("a layer whose content does not match the config's diff_id", () =>
    expectRefused(
      "diffid",
      [makeTar([{ name: "f", body: "x" }])],
      /its uncompressed content has diff_id sha256:[a-f0-9]{64}, the image config says sha256:0{64}/,
      { diffIds: [`sha256:${"0".repeat(64)}`] },
    ));
});

test("a well-formed crafted image passes the same path (the harness itself is sound)", async () => {
  craftImage(
    layout,
    "good",
    [
      makeTar([{ name: "bin/", type: "dir" }]),
      Buffer.concat([
        makeTar([{ name: "bin/busybox", body: readFileSync("/bin/busybox"), mode: 0o755 }]),
      ]),
    ],
    { entrypoint: ["/bin/busybox", "echo", "fine"] },
  );
  push(layout, "good", `${registry.host}/hostile/good:v1`);
  const file = join(dir, "good.json");
  writeFileSync(
    file,
    JSON.stringify({
      stateDir: join(dir, "good-state"),
      registries: { [registry.host]: { insecure: true } },
      containers: { g: { image: `${registry.host}/hostile/good:v1` } },
    }),
  );
  const r = await railyard(["--config", file, "run", "g"]);
  assert.equal(r.stdout, "fine\n", r.stderr);
});
