import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readFileInRoot, readRegularFile, UnreadableFileError } from "./read-file.js";

const dir = mkdtempSync(join(tmpdir(), "railyard-read-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a regular file is read, through a link; anything else is refused at once, never waited on", () => {
  const f = join(dir, "secret");
  writeFileSync(f, "s3cret\n");
  symlinkSync(f, join(dir, "link"));
  assert.equal(readRegularFile(join(dir, "link"), 100).toString(), "s3cret\n");
  const fifo = join(dir, "fifo");
  execFileSync("mkfifo", [fifo]);
  const refused = (path: string, why: RegExp) =>
    assert.throws(
      () => readRegularFile(path, 1 << 20),
      (e) => e instanceof UnreadableFileError && why.test(e.message),
    );
  const t0 = Date.now();
  refused(fifo, /fifo is a FIFO, not a regular file$/);
  assert.ok(Date.now() - t0 < 1000, "a FIFO does not hang the read");
  refused("/dev/zero", /^\/dev\/zero is a character device, not a regular file$/);
  refused(dir, /is a directory, not a regular file$/);
  assert.throws(() => readRegularFile(join(dir, "absent"), 10), { code: "ENOENT" });
});

test("a file over the limit is refused with both sizes, and nothing past the limit is read", () => {
  const f = join(dir, "big");
  writeFileSync(f, Buffer.alloc(3 * 1024 * 1024));
  assert.throws(() => readRegularFile(f, 1 << 20), /big is 3 MiB, over the limit of 1 MiB$/);
  writeFileSync(f, Buffer.alloc(1 << 20));
  assert.equal(readRegularFile(f, 1 << 20).length, 1 << 20, "exactly the limit is fine");
});

test("a file in another root: its links resolve inside that root, never the host's", () => {
  const root = join(dir, "container");
  mkdirSync(join(root, "etc"), { recursive: true });
  mkdirSync(join(root, "usr/lib"), { recursive: true });
  writeFileSync(join(root, "usr/lib/passwd"), "root:x:0:0::/root:/bin/sh\n");
  // /etc/passwd -> ../usr/lib/passwd, and /etc/group -> /usr/lib/passwd: both stay inside.
  symlinkSync("../usr/lib/passwd", join(root, "etc/passwd"));
  symlinkSync("/usr/lib/passwd", join(root, "etc/group"));
  const read = (p: string) => readFileInRoot(root, p, 1 << 20).toString();
  assert.equal(read("/etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
  assert.equal(read("/etc/group"), "root:x:0:0::/root:/bin/sh\n");
  assert.equal(read("/../../../usr/lib/passwd"), "root:x:0:0::/root:/bin/sh\n", "no .. above it");
  // What the attack used: links to the host's files. Inside this root they lead nowhere.
  symlinkSync("/etc/shadow", join(root, "etc/shadow-of-the-host"));
  assert.throws(() => read("/etc/shadow-of-the-host"), { code: "ENOENT" });
  symlinkSync("/dev/zero", join(root, "etc/zero"));
  assert.throws(() => read("/etc/zero"), { code: "ENOENT" });
  symlinkSync("../../../../../../etc", join(root, "up"));
  assert.throws(() => read("/up/shadow"), { code: "ENOENT" });
  // A FIFO inside it is refused, not waited on; a loop of links ends.
  execFileSync("mkfifo", [join(root, "etc/fifo")]);
  assert.throws(() => read("/etc/fifo"), /is a FIFO, not a regular file/);
  symlinkSync("loop-b", join(root, "etc/loop-a"));
  symlinkSync("loop-a", join(root, "etc/loop-b"));
  assert.throws(() => read("/etc/loop-a"), { code: "ELOOP" });
});
