import assert from "node:assert/strict";
import { test } from "node:test";
import {
  capabilityList,
  execArgv,
  parseUnitFile,
  splitUnitWords,
  unitEnvironment,
  unitHas,
  unitValue,
  unitValues,
} from "./unit-file.js";

test("a unit as systemd reads it: continued lines, comments, repeats, resets, and drop-ins last", () => {
  const u = parseUnitFile(
    [
      "[Unit]",
      "Description=x",
      "[Service]",
      "# a comment",
      "ExecStart=/usr/sbin/d \\",
      "  --flag \\",
      "; a comment inside",
      "  --other",
      "Environment=A=1",
      "Environment=B=2",
      "CapabilityBoundingSet=",
      "KillSignal=SIGTERM",
    ].join("\n"),
    "[Service]\nKillSignal=SIGQUIT\nEnvironment=\nEnvironment=C=3\n",
  );
  assert.deepEqual(splitUnitWords(unitValue(u, "Service", "ExecStart") ?? ""), [
    "/usr/sbin/d",
    "--flag",
    "--other",
  ]);
  assert.equal(unitValue(u, "Service", "KillSignal"), "SIGQUIT", "the drop-in wins");
  assert.deepEqual(unitValues(u, "Service", "Environment"), ["C=3"], "an empty value resets");
  assert.ok(unitHas(u, "Service", "CapabilityBoundingSet"));
  assert.deepEqual(unitValues(u, "Service", "CapabilityBoundingSet"), []);
  assert.ok(!unitHas(u, "Service", "User"));
});

test("command lines split as systemd splits them: quotes, escapes, prefixes, variables", () => {
  assert.deepEqual(splitUnitWords(`/usr/sbin/nginx -g 'daemon on; master_process on;'`), [
    "/usr/sbin/nginx",
    "-g",
    "daemon on; master_process on;",
  ]);
  assert.deepEqual(splitUnitWords(`a "b c\\"d" e\\ f`), ["a", 'b c"d', "e f"]);
  assert.equal(splitUnitWords(`a "open`), undefined);
  const env = { OPTS: "-x -y", DIR: "/srv/a b" };
  assert.deepEqual(execArgv("-@/usr/bin/d daemon-name $OPTS ${DIR} --in=${DIR}", env), {
    argv: ["/usr/bin/d", "-x", "-y", "/srv/a b", "--in=/srv/a b"],
    missing: [],
  });
  assert.deepEqual(execArgv("/usr/bin/d $NOPE", env)?.missing, ["NOPE"]);
  assert.deepEqual(unitEnvironment([`A=1 "B=two words"`, "C=3"]), {
    A: "1",
    B: "two words",
    C: "3",
  });
  assert.deepEqual(capabilityList(["CAP_SETUID cap_setgid", "CAP_CHOWN"]), {
    caps: ["CHOWN", "SETGID", "SETUID"],
    inverted: false,
  });
  assert.deepEqual(capabilityList(["~CAP_SYS_ADMIN"]).inverted, true);
});
