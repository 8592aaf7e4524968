import assert from "node:assert/strict";
import { test } from "node:test";
import { containerId, engineName, idScope } from "./ids.js";

test("runtime ids: plain for the default state dir, scoped by a hash of any other", () => {
  assert.equal(containerId("web"), "railyard-web");
  assert.equal(idScope("/var/lib/railyard", "/var/lib/railyard"), undefined);
  const a = idScope("/srv/project-a/state", "/var/lib/railyard");
  const b = idScope("/srv/project-b/state", "/var/lib/railyard");
  assert.match(a ?? "", /^[0-9a-f]{8}$/);
  assert.notEqual(a, b, "two projects, two scopes");
  assert.equal(containerId("web", { idScope: a }), `railyard-web-${a}`);
  // A project names its ids itself, as compose prefixes its containers.
  assert.equal(containerId("db", { project: "immich", idScope: a }), "railyard-immich-db");
});

test("a docker or podman container is named as compose names it: PROJECT-NAME in a project", () => {
  assert.equal(engineName("db"), "db");
  assert.equal(engineName("db", { idScope: "1a2b3c4d" }), "db");
  assert.equal(engineName("db", { project: "immich" }), "immich-db");
});
