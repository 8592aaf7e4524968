import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveConfig } from "../config/resolve/index.js";
import { fakeContext, SCOPE } from "../../tests/helpers/context.js";
import { secretMounts, secretUnitLines } from "./secrets.js";

const config = resolveConfig(
  {
    secrets: {
      pw: { file: "/etc/railyard/db password" },
      token: { encrypted: "/etc/railyard/token.cred" },
    },
    containers: {
      db: {
        image: "postgres",
        secrets: ["pw", { source: "token", target: "/etc/app/token", uid: 999, mode: 0o400 }],
      },
    },
  },
  fakeContext(),
);
const db = config.containers["db"];

test("the unit loads each secret as a credential, copies it with its owner and mode, and removes the copies", () => {
  assert.ok(db);
  const lines = secretUnitLines(config, db, "railyard-db");
  assert.deepEqual(lines.slice(0, 2), [
    'LoadCredential=pw:"/etc/railyard/db password"',
    "LoadCredentialEncrypted=token:/etc/railyard/token.cred",
  ]);
  const pre = lines[2] ?? "";
  assert.match(
    pre,
    /^ExecStartPre=\/bin\/sh -c "rm -rf \/run\/railyard\/secrets\/railyard-db && mkdir -p -m 0700 /,
  );
  // "$CREDENTIALS_DIRECTORY" for sh, its $ doubled for systemd, its quotes escaped in the value.
  const dir = String.raw`\"$$CREDENTIALS_DIRECTORY\"`;
  for (const want of [
    `install -o 0 -g 0 -m 0444 ${dir}/pw /run/railyard/secrets/railyard-db/0`,
    `install -o 999 -g 0 -m 0400 ${dir}/token /run/railyard/secrets/railyard-db/1`,
  ])
    assert.ok(pre.includes(want), `${want}\nnot in\n${pre}`);
  assert.equal(lines[3], "ExecStopPost=-/bin/rm -rf /run/railyard/secrets/railyard-db");
  assert.doesNotMatch(lines.join("\n"), /Environment|SetCredential/, "no value in the unit");
});

test("each secret is a read-only bind of its copy at its target", () => {
  assert.ok(db);
  assert.deepEqual(
    secretMounts(db, "railyard-db").map((m) => [m.destination, m.source, m.options.join(",")]),
    [
      ["/run/secrets/pw", "/run/railyard/secrets/railyard-db/0", "bind,ro,nosuid,nodev,noexec"],
      ["/etc/app/token", "/run/railyard/secrets/railyard-db/1", "bind,ro,nosuid,nodev,noexec"],
    ],
  );
  assert.deepEqual(secretUnitLines(config, { ...db, secrets: [] }, "x"), []);
});

test("rootless, the copies are made under the container's id mapping, in the user's runtime dir", () => {
  assert.ok(db);
  const user = { ...config, rootless: SCOPE };
  const [, , pre, post] = secretUnitLines(user, db, "railyard-db");
  assert.match(
    pre ?? "",
    /^ExecStartPre=\/usr\/bin\/unshare --map-users=100000,1,65536 --map-groups=200000,1,65536 --map-root-user \/bin\/sh -c "rm -rf \/run\/user\/1000\/railyard\/secrets\/railyard-db && /,
  );
  assert.ok((pre ?? "").includes("install -o 999 -g 0 -m 0400"), pre);
  assert.equal(post, "ExecStopPost=-/bin/rm -rf /run/user/1000/railyard/secrets/railyard-db");
  assert.equal(
    secretMounts(db, "railyard-db", SCOPE)[0]?.source,
    "/run/user/1000/railyard/secrets/railyard-db/0",
  );
});
