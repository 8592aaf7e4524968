import assert from "node:assert/strict";
import { test } from "node:test";
import { resolveConfig } from "../config/resolve/index.js";
import type { ContainerConfig } from "../model/types.js";
import { fakeContext } from "../../tests/helpers/context.js";
import { diffServices, formatDiff, type ServiceSnapshot } from "./diff.js";
import type { ServiceEntry } from "./manifest.js";

const entry = (over: Partial<ServiceEntry> = {}): ServiceEntry => ({
  unit: "railyard-db.service",
  unitHash: "sha256:u1",
  bundle: "db-1",
  fingerprint: "sha256:f1",
  image: "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  autoStart: true,
  ...over,
});
const container = (c: ContainerConfig) => {
  const r = resolveConfig({ containers: { db: c } }, fakeContext()).containers["db"];
  assert.ok(r);
  return r;
};
const snap = (
  c: ContainerConfig,
  env: Record<string, string>,
  over: Partial<ServiceEntry> = {},
): ServiceSnapshot => ({ entry: entry(over), env, container: container(c) });

test("a change to image, environment and ports: one line per field, and no environment value", () => {
  const before = {
    db: snap(
      { image: "postgres:16", ports: ["5432"] },
      { POSTGRES_PASSWORD: "hunter2-old", PGDATA: "/data", GONE: "x" },
    ),
    old: snap({ image: "busybox" }, {}),
  };
  const after = {
    db: snap(
      { image: "postgres:17", ports: ["0.0.0.0:5433:5432"], capabilities: { NET_ADMIN: true } },
      { POSTGRES_PASSWORD: "hunter2-new", PGDATA: "/data", NEW: "y" },
      { image: "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbb", fingerprint: "sha256:f2" },
    ),
    web: snap({ image: "nginx" }, {}),
  };
  const d = diffServices(before, after);
  assert.deepEqual(
    d.map((s) => [s.name, s.status, s.restarts]),
    [
      ["db", "changed", true],
      ["old", "removed", false],
      ["web", "added", false],
    ],
  );
  const db = d[0];
  const field = (f: string) => db?.changes.find((c) => c.field === f);
  assert.deepEqual(field("environment"), {
    field: "environment",
    added: ["NEW"],
    removed: ["GONE"],
    changed: ["POSTGRES_PASSWORD"],
  });
  assert.deepEqual(field("image"), {
    field: "image",
    from: "docker.io/library/postgres:16",
    to: "docker.io/library/postgres:17",
  });
  assert.deepEqual(field("digest"), {
    field: "digest",
    from: "sha256:aaaaaaaaaaaa",
    to: "sha256:bbbbbbbbbbbb",
  });
  assert.deepEqual(field("ports"), {
    field: "ports",
    added: ["0.0.0.0:5433:5432"],
    removed: ["127.0.0.1:5432:5432"],
  });
  assert.deepEqual(field("capabilities"), { field: "capabilities", added: ["CAP_NET_ADMIN"] });
  const text = formatDiff(d).join("\n");
  assert.match(text, /^db \(restarts\)$/m);
  assert.match(text, /^ {2}environment +\+NEW {2}-GONE {2}~POSTGRES_PASSWORD$/m);
  assert.match(text, /^old \(removed\)$/m);
  assert.doesNotMatch(text, /hunter2/, "values are never printed");
  assert.doesNotMatch(JSON.stringify(d), /hunter2/, "not in --json either");
});

test("the same service on both sides is no difference; a rebuilt rootfs alone says so", () => {
  const a = { db: snap({ args: ["/bin/true"] }, { A: "1" }) };
  assert.deepEqual(diffServices(a, a), []);
  const b = { db: snap({ args: ["/bin/true"] }, { A: "1" }, { fingerprint: "sha256:f9" }) };
  const [only] = diffServices(a, b);
  assert.equal(only?.restarts, true);
  assert.equal(only?.changes[0]?.field, "rootfs");
});

test("limits and the healthcheck are compared as values", () => {
  const a = { db: snap({ args: ["/bin/true"], resources: { memory: "256m" } }, {}) };
  const b = {
    db: snap(
      { args: ["/bin/true"], resources: { memory: "512m" }, healthcheck: { test: "true" } },
      {},
      { unitHash: "sha256:u2" },
    ),
  };
  const fields = diffServices(a, b)[0]?.changes.map((c) => c.field);
  assert.deepEqual(fields, ["healthcheck", "resources"]);
});

test("networks and port ranges: one line each; a generation from before `networks` reads the same", () => {
  const resolved = (c: ContainerConfig) => {
    const r = resolveConfig(
      { networks: { front: {}, back: {} }, containers: { db: c } },
      fakeContext(),
    ).containers["db"];
    assert.ok(r);
    return r;
  };
  const on = (c: ContainerConfig, drop = false): ServiceSnapshot => {
    const r = resolved(c);
    // As a generation written before containers had `networks` stored it.
    const { networks: _, ...old } = r;
    return { entry: entry(), env: {}, container: (drop ? old : r) as typeof r };
  };
  const same = diffServices(
    { db: on({ image: "postgres:16", network: "front" }, true) },
    { db: on({ image: "postgres:16", network: "front" }) },
  );
  assert.deepEqual(same, [], "nothing changed but the way it is stored");
  const d = diffServices(
    { db: on({ image: "postgres:16", network: "front", ports: ["8000-8002:8000-8002"] }, true) },
    {
      db: on({
        image: "postgres:16",
        networks: { front: {}, back: { aliases: ["pg"] } },
        ports: ["8000-8003:8000-8003"],
      }),
    },
  );
  const field = (f: string) => d[0]?.changes.find((c) => c.field === f);
  assert.deepEqual(field("networks"), { field: "networks", added: ["back (aliases pg)"] });
  assert.deepEqual(field("ports"), {
    field: "ports",
    added: ["127.0.0.1:8000-8003:8000-8003"],
    removed: ["127.0.0.1:8000-8002:8000-8002"],
  });
});
