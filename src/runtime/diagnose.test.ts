import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveConfig } from "../config/resolve.js";
import { effectiveCapabilities } from "../bundle/spec.js";
import { fakeContext } from "../../tests/helpers/context.js";
import { diagnose, TailLines } from "./diagnose.js";

const container = (c: Record<string, unknown>) => {
  const r = resolveConfig({ containers: { c: { image: "x", ...c } } }, fakeContext()).containers[
    "c"
  ];
  assert.ok(r);
  return { c: r, caps: effectiveCapabilities(r) };
};

test("an entrypoint's chown or gosu without the capability names it and the key that grants it", () => {
  const { c, caps } = container({ capabilities: { CHOWN: false, SETUID: false, SETGID: false } });
  const hints = diagnose(
    [
      "chown: changing ownership of '/var/lib/postgresql/data': Operation not permitted",
      'error: failed switching to "postgres": operation not permitted',
    ],
    c,
    caps,
  );
  assert.match(
    hints[0] ?? "",
    /changing a file's owner needs CAP_CHOWN.*capabilities: \{ CHOWN: true \}/,
  );
  // gosu names the call that failed; su-exec and setpriv are matched by their names too.
  const gosu = diagnose(["gosu: setgroups: Operation not permitted"], c, caps);
  assert.match(gosu[0] ?? "", /CAP_SETUID and CAP_SETGID.*SETUID: true, SETGID: true/);
  // With the default set, nothing to suggest: the cause is elsewhere.
  const full = container({});
  assert.deepEqual(diagnose(["chown: x: Operation not permitted"], full.c, full.caps), []);
});

test("a write to a read-only root names the path and the two ways out", () => {
  const { c, caps } = container({ readonly: true });
  const [h] = diagnose(
    ["mkdir: cannot create directory '/var/cache/nginx': Read-only file system"],
    c,
    caps,
  );
  assert.match(
    h ?? "",
    /the root is read-only .* writes \/var\/cache\/nginx\. set readonly: false, or add tmpfs: \["\/var\/cache\/nginx"\]/,
  );
  const w = container({});
  assert.deepEqual(
    diagnose(["x: Read-only file system"], w.c, w.caps),
    [],
    "not when the root is writable",
  );
});

test("the tail keeps the last lines, a partial last line included", () => {
  const t = new TailLines(2);
  t.push("one\ntwo\nthr");
  t.push("ee\nfour");
  assert.deepEqual(t.get(), ["three", "four"]);
});
