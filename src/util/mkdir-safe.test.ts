import assert from "node:assert/strict";
import {
  lchownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { mkdirNoFollow, UnsafePathError } from "./mkdir-safe.js";

const dir = mkdtempSync("/var/tmp/railyard-mkdir-");
after(() => rmSync(dir, { recursive: true, force: true }));
const owner = { uid: 1000, gid: 1000 };

test("missing parents are root's 0755; only the last directory is handed to the owner", () => {
  const leaf = join(dir, "a/b/c");
  assert.deepEqual(mkdirNoFollow(leaf, owner), [join(dir, "a"), join(dir, "a/b"), leaf]);
  const st = (p: string) => statSync(p);
  assert.deepEqual([st(join(dir, "a")).uid, st(join(dir, "a")).mode & 0o777], [0, 0o755]);
  assert.deepEqual([st(leaf).uid, st(leaf).gid], [1000, 1000]);
  assert.deepEqual(mkdirNoFollow(leaf, owner), [], "an existing directory is left alone");
});

test("a symlink someone else owns in the path is refused, and nothing is made where it points", () => {
  const home = join(dir, "home/alice");
  const sensitive = join(dir, "etc-systemd-system");
  mkdirSync(home, { recursive: true });
  mkdirSync(sensitive);
  lchownSync(home, 1000, 1000);
  symlinkSync(sensitive, join(home, "app"));
  lchownSync(join(home, "app"), 1000, 1000); // alice made it
  assert.throws(
    () => mkdirNoFollow(join(home, "app/x"), owner),
    (e: unknown) =>
      e instanceof UnsafePathError &&
      /app is a symbolic link owned by uid 1000, not by root/.test(e.message),
  );
  assert.deepEqual(readdirSync(sensitive), []);
});

test("root's own symlinks (as /var/run -> /run) are followed", () => {
  const real = join(dir, "real");
  mkdirSync(real);
  symlinkSync("real", join(dir, "alias"));
  mkdirNoFollow(join(dir, "alias/data"), owner);
  assert.equal(statSync(join(real, "data")).uid, 1000);
});
