import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveConfig } from "../config/resolve/index.js";
import { effectiveCapabilities } from "../model/capabilities.js";
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

test("no route out or no DNS on network none names the network key; with a way out, nothing", () => {
  const none = container({ network: "none" });
  for (const line of [
    "curl: (6) Could not resolve host: graph.microsoft.com",
    "connect: Network is unreachable",
    "Error: getaddrinfo EAI_AGAIN login.microsoftonline.com",
    "dial tcp: lookup api.example.com: no such host",
    "curl: (7) Failed to connect to 198.51.100.2 port 80 after 0 ms: Couldn't connect to server",
  ])
    assert.match(
      diagnose([line], none.c, none.caps)[0] ?? "",
      /network "none": loopback only, no route out\. set network: "private"/,
      line,
    );
  // An image's default network has a way out: the cause is elsewhere (the remote, DNS upstream).
  const image = container({});
  assert.equal(image.c.network, "private");
  assert.deepEqual(diagnose(["Could not resolve host: x"], image.c, image.caps), []);
  // A loopback server that is not up yet is no matter of the network key.
  const local = "curl: (7) Failed to connect to 127.0.0.1 port 5432 after 0 ms: Couldn't connect";
  assert.deepEqual(diagnose([local], none.c, none.caps), []);
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
