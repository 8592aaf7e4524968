import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveConfig } from "../config/resolve/index.js";
import type { ResolvedContainer } from "../model/types.js";
import { BuildError } from "../errors.js";
import type { ImageConfig } from "../image/manifest.js";
import { imageProcess } from "./process.js";
import { fakeContext } from "../../tests/helpers/context.js";

const ctx = fakeContext();
const c = (extra: Record<string, unknown> = {}): ResolvedContainer => {
  const r = resolveConfig({ containers: { app: { image: "example/app", ...extra } } }, ctx)
    .containers["app"];
  assert.ok(r);
  return r;
};
const db = {
  passwd: "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n",
  group: "root:x:0:\nwww:x:33:\nstaff:x:50:\n",
};
const image = (config: NonNullable<ImageConfig["config"]>): ImageConfig => ({
  config,
  rootfs: { type: "layers", diff_ids: [] },
});

test("Entrypoint + Cmd, and docker's override rules", () => {
  const img = image({ Entrypoint: ["/entry"], Cmd: ["--serve"] });
  assert.deepEqual(imageProcess(c(), img, db).args, ["/entry", "--serve"]);
  assert.deepEqual(imageProcess(c({ cmd: ["--once"] }), img, db).args, ["/entry", "--once"]);
  assert.deepEqual(
    imageProcess(c({ entrypoint: "/other" }), img, db).args,
    ["/other"],
    "a new entrypoint drops the image's Cmd",
  );
  assert.deepEqual(imageProcess(c({ entrypoint: ["/other", "-x"], cmd: ["y"] }), img, db).args, [
    "/other",
    "-x",
    "y",
  ]);
  assert.throws(() => imageProcess(c(), image({}), db), /has no Entrypoint or Cmd/);
});

test("Env, WorkingDir, User, StopSignal and Volumes come from the image unless the config says otherwise", () => {
  const img = image({
    Cmd: ["/x"],
    Env: ["PATH=/opt/bin", "A=1"],
    WorkingDir: "/srv/",
    User: "www",
    StopSignal: "SIGQUIT",
    Volumes: { "/data/": {}, "/cache": {} },
  });
  const p = imageProcess(c(), img, db);
  assert.deepEqual(p.baseEnv, { PATH: "/opt/bin", A: "1" });
  assert.equal(p.cwd, "/srv");
  assert.deepEqual(p.user, { uid: 33, gid: 33, name: "www", group: "www" });
  assert.equal(p.home, "/var/www");
  assert.equal(p.stopSignal, "SIGQUIT");
  assert.deepEqual(p.volumes, ["/cache", "/data"]);
  const o = imageProcess(c({ user: "www:staff", workdir: "/", stopSignal: "INT" }), img, db);
  assert.deepEqual([o.user.gid, o.user.group, o.cwd, o.stopSignal], [50, "staff", "/", "SIGINT"]);
  assert.deepEqual(imageProcess(c({ user: "1234" }), img, db).user, {
    uid: 1234,
    gid: 1234,
    name: "u1234",
    group: "g1234",
  });
});

test("a missing user, or a WorkingDir or Volume that could escape the rootfs, is refused", () => {
  assert.throws(
    () => imageProcess(c({ user: "nobody" }), image({ Cmd: ["/x"] }), db),
    (e: unknown) =>
      e instanceof BuildError &&
      /user "nobody" does not exist in the image's \/etc\/passwd/.test(e.message),
  );
  assert.throws(
    () => imageProcess(c(), image({ Cmd: ["/x"], User: "ghost" }), db),
    /the image's User: user "ghost" does not exist/,
  );
  assert.throws(
    () => imageProcess(c(), image({ Cmd: ["/x"], WorkingDir: "/srv/../../etc" }), db),
    /WorkingDir "\/srv\/\.\.\/\.\.\/etc" is not a clean absolute path/,
  );
  assert.throws(
    () => imageProcess(c(), image({ Cmd: ["/x"], WorkingDir: "relative" }), db),
    /WorkingDir "relative"/,
  );
  assert.throws(
    () => imageProcess(c(), image({ Cmd: ["/x"], Volumes: { "/../host": {} } }), db),
    /Volume "\/\.\.\/host" is not a clean absolute path/,
  );
  assert.throws(
    () => imageProcess(c(), image({ Cmd: ["/x"], StopSignal: "SIGBOGUS" }), db),
    /StopSignal/,
  );
});
