import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { InvalidLayerError, UnsafeLayerError } from "../errors.js";
import { makeTar, makeTarGz, tarHeader, type FixtureEntry } from "../../tests/helpers/tar.js";
import { applyLayer, type ApplyOptions } from "./apply.js";
import type { Compression } from "./decompress.js";

const scratch = mkdtempSync("/var/tmp/railyard-apply-");
after(() => rmSync(scratch, { recursive: true, force: true }));
const asRoot: ApplyOptions = { asRoot: true, maxBytes: 1 << 30 };
let n = 0;

/** A fresh root two levels below a canary file, so `../../canary` names the canary. */
function fixture(): { root: string; canary: string; outside: () => string[] } {
  const base = join(scratch, `case${n++}`);
  const root = join(base, "a", "b", "root");
  mkdirSync(root, { recursive: true });
  const canary = join(base, "canary");
  writeFileSync(canary, "untouched\n");
  const list = () =>
    execFileSync("find", [base, "-path", root, "-prune", "-o", "-print"], { encoding: "utf8" })
      .split("\n")
      .sort()
      .join("\n");
  const before = list();
  return {
    root,
    canary,
    outside: () => {
      assert.equal(
        readFileSync(canary, "utf8"),
        "untouched\n",
        "the canary outside the root is unchanged",
      );
      assert.equal(list(), before, "nothing was created outside the root");
      return [];
    },
  };
}

const apply = (
  bytes: Buffer,
  root: string,
  compression: Compression = "none",
  o: ApplyOptions = asRoot,
) => applyLayer(Readable.from([bytes]), compression, root, o);

async function refused(
  entries: FixtureEntry[],
  message: RegExp,
  o: ApplyOptions = asRoot,
): Promise<void> {
  const f = fixture();
  await assert.rejects(apply(makeTar(entries), f.root, "none", o), (e: unknown) => {
    assert.ok(e instanceof UnsafeLayerError, `expected UnsafeLayerError, got ${String(e)}`);
    assert.match(e.message, message);
    return true;
  });
  f.outside();
  // The symlink trick must not have been followed on the host either.
  assert.ok(!existsSync("/canary-railyard"), "nothing at the host's root");
}

describe("malicious layers are refused, and nothing outside the root changes", () => {
  test("an entry named ../x", () =>
    refused(
      [{ name: "../../canary", body: "pwned" }],
      /"\.\.\/\.\.\/canary": path .* contains "\.\."/,
    ));
  test("an absolute entry /abs/x", () =>
    refused(
      [{ name: "/canary-railyard", body: "pwned" }],
      /"\/canary-railyard": path .* is absolute/,
    ));
  test("a symlink to / followed by a write through it", () =>
    refused(
      [
        { name: "evil", type: "symlink", linkname: "/" },
        { name: "evil/canary-railyard", body: "pwned" },
      ],
      /"evil\/canary-railyard": its parent evil is a symlink to the absolute path \//,
    ));
  test("a symlink to ../.. followed by a write through it", () =>
    refused(
      [
        { name: "up", type: "symlink", linkname: "../.." },
        { name: "up/canary", body: "pwned" },
      ],
      /"up\/canary": its parent up is a symlink to \.\.\/\.\., which climbs out/,
    ));
  test("a nested symlink chain that climbs out", () =>
    refused(
      [
        { name: "d", type: "dir" },
        { name: "d/l", type: "symlink", linkname: "../../.." },
        { name: "d/l/canary", body: "x" },
      ],
      /climbs out of the layer root/,
    ));
  test("a directory already written through, then replaced by a symlink that leaves the root", () =>
    refused(
      [
        { name: "d", type: "dir" },
        { name: "d/sub/f", body: "fine" },
        { name: "d", type: "symlink", linkname: "../.." },
        { name: "d/sub/canary", body: "pwned" },
      ],
      /"d\/sub\/canary": its parent d is a symlink to \.\.\/\.\., which climbs out/,
    ));
  test("a hardlink to an outside path", () =>
    refused(
      [{ name: "h", type: "hardlink", linkname: "../../canary" }],
      /"h": hardlink target .* contains "\.\."/,
    ));
  test("a hardlink to an absolute host path", () =>
    refused(
      [{ name: "shadow", type: "hardlink", linkname: "/etc/shadow" }],
      /"shadow": hardlink target "\/etc\/shadow" is absolute/,
    ));
  test("a hardlink through a symlinked directory", () =>
    refused(
      [
        { name: "etc", type: "symlink", linkname: "/etc" },
        { name: "pw", type: "hardlink", linkname: "etc/passwd" },
      ],
      /"pw": its parent etc is a symlink to the absolute path \/etc/,
    ));
  test("a hardlink to a directory", () =>
    refused(
      [
        { name: "d", type: "dir" },
        { name: "h", type: "hardlink", linkname: "d" },
      ],
      /"h": hardlink target "d" is a directory/,
    ));
  for (const wh of [".wh..", ".wh...", ".wh."])
    test(`the whiteout ${JSON.stringify(wh)}`, () =>
      refused(
        [{ name: wh }],
        new RegExp(`${JSON.stringify(wh).replace(/\./g, "\\.")} is not a valid whiteout`),
      ));
  test("a whiteout of a reserved .wh. name", () =>
    refused([{ name: "d/.wh..wh.x" }], /not a valid whiteout/));
  test("a symlink named .", () =>
    refused(
      [{ name: ".", type: "symlink", linkname: "/" }],
      /"\.": a symlink cannot replace the layer root/,
    ));
  test("a device node when not running as root", () =>
    refused(
      [{ name: "sda", type: "block" }],
      /"sda": block nodes are refused when not running as root/,
      { asRoot: false, maxBytes: 1 << 30 },
    ));
  test("a FIFO when not running as root", () =>
    refused([{ name: "p", type: "fifo" }], /"p": fifo nodes are refused when not running as root/, {
      asRoot: false,
      maxBytes: 1 << 30,
    }));

  test("a decompression bomb", async () => {
    const f = fixture();
    const bomb = gzipSync(makeTar([{ name: "zeros", body: Buffer.alloc(64 << 20) }]));
    assert.ok(bomb.length < 200_000);
    await assert.rejects(
      apply(bomb, f.root, "gzip", { asRoot: true, maxBytes: 16 << 20 }),
      /decompression bomb/,
    );
    f.outside();
  });

  test("truncated and invalid tars fail instead of hanging", async () => {
    const whole = makeTar([{ name: "f", body: "x".repeat(2000) }]);
    for (const [what, bytes, c, re] of [
      ["truncated tar", whole.subarray(0, 1000), "none", /truncated archive/],
      [
        "garbage",
        Buffer.from("this is not a tar archive at all".repeat(40)),
        "none",
        /checksum mismatch/,
      ],
      ["truncated gzip", gzipSync(whole).subarray(0, 40), "gzip", /cannot decompress \(gzip\)/],
      ["not gzip", whole, "gzip", /cannot decompress \(gzip\)/],
      ["not zstd", whole, "zstd", /cannot decompress \(zstd\)/],
      [
        "lying size",
        Buffer.concat([tarHeader({ name: "f", size: 1 << 20 }), Buffer.alloc(512)]),
        "none",
        /truncated archive/,
      ],
      [
        "unknown type",
        Buffer.concat([tarHeader({ name: "s" }, "S"), Buffer.alloc(1024)]),
        "none",
        /unsupported entry type "S"/,
      ],
    ] as const) {
      const f = fixture();
      await assert.rejects(
        apply(bytes, f.root, c),
        (e: unknown) => e instanceof InvalidLayerError && re.test(e.message),
        what,
      );
      f.outside();
    }
  });
});

describe("the OCI changeset rules", () => {
  test('a root entry written "/" or "./" is the root itself, as docker and podman read it', async () => {
    const f = fixture();
    await apply(
      makeTar([
        { name: "/", type: "dir", mode: 0o755 },
        { name: "./", type: "dir", mode: 0o755 },
        { name: "etc/", type: "dir" },
        { name: "etc/os-release", body: "ID=debian\n" },
      ]),
      f.root,
    );
    assert.equal(readFileSync(join(f.root, "etc/os-release"), "utf8"), "ID=debian\n");
    f.outside();
    // Only the bare root: "/etc" is still an absolute path.
    await refused([{ name: "//etc/x", body: "pwned" }], /"\/\/etc\/x": path .* is absolute/);
    await refused(
      [{ name: "/", type: "symlink", linkname: "/etc" }],
      /a symlink cannot replace the layer root/,
    );
  });

  test("whiteouts remove lower-layer entries; opaque directories hide them, but not this layer's own", async () => {
    const f = fixture();
    await apply(
      makeTar([
        { name: "etc/", type: "dir" },
        { name: "etc/keep", body: "k" },
        { name: "etc/gone", body: "g" },
        { name: "opaque/", type: "dir" },
        { name: "opaque/old", body: "o" },
        { name: "opaque/sub/", type: "dir" },
      ]),
      f.root,
    );
    await apply(
      makeTarGz([
        { name: "etc/.wh.gone" },
        { name: "opaque/", type: "dir" },
        { name: "opaque/new", body: "n" },
        { name: "opaque/.wh..wh..opq" }, // after the new entry: must not remove it
        { name: "nodir/.wh.x" }, // a whiteout in a missing dir hides nothing, creates nothing
      ]),
      f.root,
      "gzip",
    );
    assert.deepEqual(readdirSync(join(f.root, "etc")), ["keep"]);
    assert.deepEqual(readdirSync(join(f.root, "opaque")), ["new"]);
    assert.ok(!existsSync(join(f.root, "nodir")));
    f.outside();
  });

  test("hardlinks, symlinks, modes, owners and type replacement", async () => {
    const f = fixture();
    await apply(
      makeTar([
        { name: "bin/", type: "dir" },
        { name: "bin/tool", body: "#!/bin/sh\n", mode: 0o4755, uid: 2000, gid: 100 },
        { name: "x", type: "dir" },
        { name: "x/inner", body: "i" },
        { name: "y", body: "file" },
      ]),
      f.root,
    );
    await apply(
      makeTar([
        { name: "bin/alias", type: "hardlink", linkname: "bin/tool" },
        { name: "lnk", type: "symlink", linkname: "bin/tool" },
        { name: "x", body: "now a file" }, // dir -> file
        { name: "y", type: "dir" }, // file -> dir
        { name: "rel", type: "symlink", linkname: "bin" },
        { name: "rel/through", body: "inside" }, // a relative symlink that stays inside is followed
      ]),
      f.root,
    );
    const tool = lstatSync(join(f.root, "bin/tool"));
    assert.equal(
      tool.mode & 0o7777,
      0o4755,
      "setuid is kept when unpacking as root (the store is 0700)",
    );
    assert.deepEqual([tool.uid, tool.gid], [2000, 100]);
    assert.equal(lstatSync(join(f.root, "bin/alias")).ino, tool.ino);
    assert.equal(readlinkSync(join(f.root, "lnk")), "bin/tool");
    assert.equal(readFileSync(join(f.root, "x"), "utf8"), "now a file");
    assert.ok(lstatSync(join(f.root, "y")).isDirectory());
    assert.equal(readFileSync(join(f.root, "bin/through"), "utf8"), "inside");
    f.outside();
  });

  test("without root, setuid and setgid bits are dropped", async () => {
    const f = fixture();
    await apply(makeTar([{ name: "s", body: "x", mode: 0o6755 }]), f.root, "none", {
      asRoot: false,
      maxBytes: 1 << 20,
    });
    assert.equal(lstatSync(join(f.root, "s")).mode & 0o7777, 0o755);
  });

  test("the diff_id is the sha256 of the uncompressed tar, for gzip and zstd alike", async () => {
    const tar = makeTar([{ name: "hello", body: "world" }]);
    const want = `sha256:${createHash("sha256").update(tar).digest("hex")}`;
    const f = fixture();
    assert.equal((await apply(gzipSync(tar), f.root, "gzip")).diffId, want);
    const zst = execFileSync("zstd", ["-c", "-q"], { input: tar });
    const g = fixture();
    assert.equal((await apply(zst, g.root, "zstd")).diffId, want);
    assert.equal(readFileSync(join(g.root, "hello"), "utf8"), "world");
  });
});
